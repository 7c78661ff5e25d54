"""bench/results/chart.png: throughput as a share of the ceiling (with the goals), and latency
against page depth for keyset pagination and for OFFSET.

The chart is drawn from plain data that is also saved in bench/results/latest.json, so
`python -m bench.chart` redraws it without re-running the benchmark.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import RESULTS_DIR
from bench.depth import DepthProfile
from bench.goals import GoalCheck
from bench.jobs import JobResults
from bench.measures import CaseResult

#: How latest.md shows the chart; `python -m bench.chart` puts it back after a late redraw.
CHART_LINK = "![rps as a share of the ceiling, and latency against page depth](chart.png)"
MISSING_PREFIX = "Chart not drawn: "


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float  # x ceiling (or x bare Celery for the job bar)
    goal: float | None  # in the same units


@dataclass(frozen=True, slots=True)
class ChartData:
    bars: list[Bar]
    depth: dict[str, dict[int, float]]  # line label -> page -> median ms

    def to_json(self) -> dict[str, object]:
        return {
            "bars": [[bar.label, bar.value, bar.goal] for bar in self.bars],
            "depth": {
                label: {str(k): v for k, v in line.items()} for label, line in self.depth.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChartData:
        bars = [Bar(str(label), float(value), goal) for label, value, goal in data["bars"]]
        depth = {
            str(label): {int(page): float(ms) for page, ms in line.items()}
            for label, line in data["depth"].items()
        }
        return cls(bars, depth)


def chart_data(
    cases: list[CaseResult], jobs: JobResults, goals: dict[str, GoalCheck], depth: DepthProfile
) -> ChartData:
    bars = [
        Bar(
            result.case.label,
            result.ratio,
            goals[result.case.key].ceiling_units if result.case.key in goals else None,
        )
        for result in cases
    ]
    bars.append(Bar("welcome jobs (x bare Celery no-op)", jobs.ratio, goals["jobs"].ceiling_units))
    lines = {
        "keyset through the API (HTTP)": depth.api_keyset_ms,
        "keyset query in PostgreSQL": depth.sql_keyset_ms,
        "OFFSET query in PostgreSQL": depth.sql_offset_ms,
    }
    return ChartData(bars, lines)


def draw(data: ChartData, path: Path) -> str | None:
    """Draw the chart; returns why it could not, or None when it was written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (
            "matplotlib is not installed in this environment (it is in the `bench` dependency"
            " group: `make install`, then `python -m bench.chart` redraws from latest.json)"
        )

    figure, (bars, lines) = plt.subplots(1, 2, figsize=(15, 6.5), width_ratios=(1.25, 1))
    positions = list(range(len(data.bars)))[::-1]
    values = [bar.value for bar in data.bars]
    colors = ["tab:blue"] * (len(data.bars) - 1) + ["tab:purple"]
    bars.barh(positions, values, color=colors)
    for position, bar in zip(positions, data.bars, strict=True):
        bars.text(bar.value, position, f" {bar.value:.3f}", va="center", fontsize=8)
        if bar.goal is not None:
            bars.plot([bar.goal, bar.goal], [position - 0.4, position + 0.4], color="tab:red", lw=2)
    bars.plot([], [], color="tab:red", lw=2, label="goal")
    bars.set_yticks(positions, [bar.label for bar in data.bars], fontsize=8)
    bars.set_xlabel("requests/s as a share of the bare FastAPI ceiling (same run)")
    bars.set_title("Throughput relative to the ceiling")
    bars.set_xlim(0, max([*values, *(bar.goal or 0 for bar in data.bars)]) * 1.25)
    bars.legend(loc="lower right")

    for (label, line), style in zip(data.depth.items(), ("o-", "s--", "^-"), strict=True):
        pages = sorted(line)
        lines.plot(pages, [line[page] for page in pages], style, label=label)
    lines.set_xscale("log")
    lines.set_yscale("log")
    lines.set_xlabel("page number (20 tasks per page)")
    lines.set_ylabel("latency per page, ms (median)")
    lines.set_title("Latency against page depth (scale user)")
    lines.grid(True, which="both", alpha=0.3)
    lines.legend()

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return None


def main() -> int:
    """Redraw chart.png from the last run's latest.json, and link it from latest.md if the run
    itself could not draw it."""
    saved = json.loads((RESULTS_DIR / "latest.json").read_text())
    problem = draw(ChartData.from_json(saved["chart"]), RESULTS_DIR / "chart.png")
    if problem:
        print(problem, file=sys.stderr)
        return 1
    report = RESULTS_DIR / "latest.md"
    if report.exists():
        lines = report.read_text().splitlines()
        lines = [CHART_LINK if line.startswith(MISSING_PREFIX) else line for line in lines]
        report.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
