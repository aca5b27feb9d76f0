"""``python -m bench [name ...] [-- options for each]``: run the benchmarks and print their figures.

    python -m bench              # every benchmark in bench.BENCHMARKS, in order
    python -m bench rush         # one of them
    python -m bench --list
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python -m bench rush

Exit status: 0 when every benchmark met its targets, 1 otherwise.

Between two benchmarks it waits (at most ``SETTLE_MAX_S``) until the 1-minute load average is down
to ``SETTLE_LOAD_PER_CPU`` per CPU, so that one benchmark's aftermath (its server processes winding
down, PostgreSQL vacuuming and checkpointing what it wrote) is not timed as the next one's latency.
"""
from __future__ import annotations

import importlib
import os
import sys
import time

from . import BENCHMARKS


SETTLE_LOAD_PER_CPU = 0.75
SETTLE_MAX_S = 60.0


def settle(max_s: float = SETTLE_MAX_S) -> None:
    """Wait until the machine is about as quiet as before the first benchmark (see the module doc)."""
    cpus = os.cpu_count() or 1
    started = time.monotonic()
    while os.getloadavg()[0] > SETTLE_LOAD_PER_CPU * cpus and time.monotonic() - started < max_s:
        time.sleep(2)
    print(f"(settled {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.2f})", flush=True)


def main(argv: list[str]) -> int:
    if "--list" in argv:
        for name, module in BENCHMARKS.items():
            print(f"{name:12} {module}")
        return 0
    names, options = argv, []
    if "--" in argv:
        cut = argv.index("--")
        names, options = argv[:cut], argv[cut + 1:]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; try --list", file=sys.stderr)
        return 2
    failed = []
    for number, name in enumerate(names or list(BENCHMARKS)):
        if number:
            settle()
        print(f"=== bench {name} ===", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(BENCHMARKS[name])
        status = module.main(list(options))
        print(f"=== bench {name}: {'targets met' if status == 0 else 'TARGETS MISSED'} "
              f"({time.perf_counter() - started:.0f} s) ===\n", flush=True)
        if status:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
