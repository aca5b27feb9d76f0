"""``python -m bench [name ...] [-- options for each]``: run the benchmarks and print their figures.

    python -m bench              # every benchmark in bench.BENCHMARKS, in order
    python -m bench rush         # one of them
    python -m bench --list
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python -m bench rush

Exit status: 0 when every benchmark met its targets, 1 otherwise.
"""
from __future__ import annotations

import importlib
import sys
import time

from . import BENCHMARKS


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
    for name in names or list(BENCHMARKS):
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
