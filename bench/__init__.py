"""TaskHub load and scale benchmarks (`make bench`, `python -m bench`).

The harness starts its own TaskHub (production settings, one uvicorn worker) on embedded
PostgreSQL and Redis, seeds it, loads it with `wrk` from a separate process, and compares every
case with a bare FastAPI "ceiling" app measured in the same run. Results land in
`bench/results/latest.md` and `bench/results/chart.png`.
"""
