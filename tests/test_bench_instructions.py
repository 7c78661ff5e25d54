"""Reading callgrind's dumps (bench/instructions.py); the counting itself needs valgrind and a
running API, and is exercised by `python -m bench.instructions`."""

from __future__ import annotations

import pytest

from bench.instructions import dump_totals

DUMP = """# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 6859
cmd:  python -m uvicorn app.main:app
part: 1

events: Ir

fl=(1) ceval.c
fn=(1) _PyEval_EvalFrameDefault
0 32671486

totals: 136528062
"""


def test_the_totals_line_is_the_count() -> None:
    assert dump_totals(DUMP) == 136_528_062


def test_older_dumps_name_it_summary() -> None:
    assert dump_totals(DUMP.replace("totals:", "summary:")) == 136_528_062


def test_a_dump_without_totals_is_an_error_not_zero() -> None:
    with pytest.raises(ValueError, match="no totals"):
        dump_totals(DUMP.replace("totals: 136528062\n", ""))
