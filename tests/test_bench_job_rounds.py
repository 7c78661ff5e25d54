"""The summary of `python -m bench.job_rounds` (bench/job_rounds.py) and the report's job table
(bench/report.py); the rounds themselves need the whole stack and run in `make bench`."""

from __future__ import annotations

import pytest

from bench.job_rounds import summary
from bench.jobs import JobCpu, JobResults, JobRun
from bench.report import job_table


def _cpu(worker: float) -> JobCpu:
    return JobCpu(
        worker=worker, postgres=1.0, redis=0.5, smtp_sink=0.0, harness=0.25, other=0.25, cores=2.0
    )


def test_the_ratio_is_the_mean_of_the_paired_ratios() -> None:
    results = JobResults(
        welcome=[JobRun(1000, 4.0, _cpu(5.0)), JobRun(1000, 2.0, _cpu(4.0))],  # 250/s, 500/s
        noop=[JobRun(1000, 1.0, _cpu(2.0)), JobRun(1000, 2.0, _cpu(2.0))],  # 1,000/s, 500/s
    )

    assert results.pair_ratios == [0.25, 1.0]
    assert results.ratio == pytest.approx(0.625)  # not 375 / 750 = 0.5: drift between pairs cancels
    assert summary(results) == (
        "welcome jobs 375/s, no-op 750/s; welcome / no-op 0.625 (mean of 2 pairs, 0.250 to 1.000);"
        " CPU per job: welcome 6.50 ms (worker 4.50), no-op 4.00 ms (worker 2.00)"
    )


def test_unpaired_rounds_are_an_error() -> None:
    results = JobResults(welcome=[JobRun(10, 1.0, _cpu(1.0))], noop=[])

    with pytest.raises(ValueError, match="shorter"):
        _ = results.pair_ratios  # never a silently shortened mean


def test_the_report_shows_each_pair_with_its_ratio_and_cpu() -> None:
    results = JobResults(
        welcome=[JobRun(1000, 4.0, _cpu(5.0))],  # 250/s
        noop=[JobRun(1000, 1.0, _cpu(2.0))],  # 1,000/s
    )

    rows = [line for line in job_table(results) if line.startswith("| 1 |")]

    assert rows == [
        "| 1 | no-op | 1,000 |  | 2.00 | 1.00 | 0.50 | 0.00 | 0.25 | 0.25 | 4.00 | 2.00 |",
        "| 1 | welcome | 250 | 0.250 | 5.00 | 1.00 | 0.50 | 0.00 | 0.25 | 0.25 | 7.00 | 2.00 |",
    ]
