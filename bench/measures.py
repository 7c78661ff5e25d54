"""What one HTTP case run yields, and the per-case aggregates the report and goals use."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.cases import Case
from bench.cpu import CpuUsage
from bench.wrk import WrkResult


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _mean_or_none(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return _mean(known) if known else None


@dataclass(frozen=True, slots=True)
class Measured:
    wrk: WrkResult
    cpu: CpuUsage
    new_connections: int | None  # PostgreSQL sessions opened during the run

    def _per_request_ms(self, cores: float | None) -> float | None:
        return None if cores is None or not self.wrk.rps else cores / self.wrk.rps * 1000

    @property
    def server_ms_per_request(self) -> float | None:
        return self._per_request_ms(self.cpu.server)

    @property
    def postgres_ms_per_request(self) -> float | None:
        return self._per_request_ms(self.cpu.postgres)


@dataclass(frozen=True, slots=True)
class Memory:
    peak_mb: float | None  # VmHWM during a read-only run (None for other runs)
    end_mb: float  # VmRSS when the run (and the server's backlog) finished
    before_writes: bool  # no login or write run has happened in this process yet


@dataclass(frozen=True, slots=True)
class Pair:
    """One case run with the ceiling runs on either side of it."""

    ceiling_before: Measured
    case: Measured
    ceiling_after: Measured
    companion: WrkResult | None
    memory: Memory

    @property
    def ceiling_rps(self) -> float:
        return (self.ceiling_before.wrk.rps + self.ceiling_after.wrk.rps) / 2

    @property
    def ceiling_ms_per_request(self) -> float | None:
        return _mean_or_none(
            [self.ceiling_before.server_ms_per_request, self.ceiling_after.server_ms_per_request]
        )

    @property
    def ratio(self) -> float:
        return self.case.wrk.rps / self.ceiling_rps


@dataclass
class CaseResult:
    case: Case
    pairs: list[Pair] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return _mean([pair.case.wrk.rps for pair in self.pairs])

    @property
    def p50_ms(self) -> float:
        return _mean([pair.case.wrk.p50_ms for pair in self.pairs])

    @property
    def p99_ms(self) -> float:
        return _mean([pair.case.wrk.p99_ms for pair in self.pairs])

    @property
    def ratio(self) -> float:
        """Mean over runs of the case's rps over the mean of the ceiling runs around it."""
        return _mean([pair.ratio for pair in self.pairs])

    @property
    def server_ms_per_request(self) -> float | None:
        return _mean_or_none([pair.case.server_ms_per_request for pair in self.pairs])

    @property
    def postgres_ms_per_request(self) -> float | None:
        return _mean_or_none([pair.case.postgres_ms_per_request for pair in self.pairs])

    @property
    def ceiling_ms_per_request(self) -> float | None:
        return _mean_or_none([pair.ceiling_ms_per_request for pair in self.pairs])

    def peak_rss_mb(self, *, before_writes_only: bool = False) -> float | None:
        peaks = [
            pair.memory.peak_mb
            for pair in self.pairs
            if pair.memory.peak_mb is not None
            and (pair.memory.before_writes or not before_writes_only)
        ]
        return max(peaks) if peaks else None

    @property
    def companion_rps(self) -> float | None:
        return _mean_or_none(
            [pair.companion.rps if pair.companion else None for pair in self.pairs]
        )


def peak_rss_mb(results: list[CaseResult], *, before_writes_only: bool = False) -> float:
    """The API's peak RSS over the read-only runs (optionally only those before any login or
    write run: argon2 hashing leaves memory behind in the process)."""
    return max(
        result.peak_rss_mb(before_writes_only=before_writes_only) or 0.0 for result in results
    )
