"""Benchmarks run by ``make bench`` (``python -m bench``).

Every benchmark is a module with ``main(argv: list[str]) -> int`` (0 when its targets
were met). Add new ones to ``BENCHMARKS`` — the one list ``python -m bench`` runs.
"""

#: Benchmark modules run in this order by ``python -m bench``; the short name selects one.
BENCHMARKS: dict[str, str] = {
    "rush": "bench.rush",  # 2,000 API sign-ups for 100 places, against a minimal-Flask baseline
    "invariants": "bench.invariants",  # 10,000 random operations from 8 threads: 0 invariant violations (R4)
    "crash": "bench.crash",  # kill -9 the server 20 times during a sign-up rush: 0 confirmed lost (R7)
    "soak": "bench.soak",  # 60 s of mixed traffic: 0 5xx, latency per kind, server RSS growth (R5)
    "import": "bench.import_bench",  # 10,000 workers imported from a spreadsheet (issue 2)
    "unions": "bench.unions_import",  # a 10,000-union tree imported, again, and renamed (issue 16)
    "reports": "bench.reports",  # 1,000,000 registrations; every report page timed for the city officer
    "outbox": "bench.outbox",  # 100,000 messages through 1 and 2 outbox workers to a relay stub (issue 17)
    "outbox-crash": "bench.outbox_crash",  # kill -9 the outbox worker 10 times: nothing lost, duplicates counted
    "door": "bench.door",  # 20 riders by camera scan and 20 by typed code at a 360 px door page (issue 19)
}
