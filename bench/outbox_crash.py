"""Outbox crash test (issue 17): kill -9 the worker mid-run, again and again; nothing may be lost.

M messages (default 10,000; 5 % refused, 5 % failing once, as in ``bench/outbox.py``) are queued;
a ``flask outbox worker`` is started and, a random moment after it began sending, killed with
SIGKILL — ``--cycles`` times (default 10), each time a fresh worker.  The lease is short
(OUTBOX_LEASE_SECONDS, 3 s here), so a killed worker's claimed batch goes to the next one.  A last
worker then drains the queue.  The relay stub counts deliveries per message id:

* lost: a good message never delivered (target 0);
* duplicates: deliveries beyond the first — a worker killed after the relay took a message and
  before its mark committed sends it again once the lease ends (reported; the goal is 0);
* every refused message dead, none pending, 0 bad signatures.

    .venv/bin/python -m bench outbox-crash
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench outbox-crash
"""
from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from .common import database_url, engine_label, machine_line
from .outbox import (Relay, check, id_states, make_app, migrate, queue, start_worker, states, stop_worker,
                     wait_drained, worker_env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox_crash", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="a PostgreSQL server URL (default: $DATABASE_URL; a SQLite file when unset)")
    parser.add_argument("--messages", type=int, default=10_000, help="messages queued (default 10,000)")
    parser.add_argument("--cycles", type=int, default=10, help="kill -9 cycles (default 10)")
    parser.add_argument("--batch", type=int, default=20, help="messages claimed at a time (default 20)")
    parser.add_argument("--lease", type=float, default=3.0, help="OUTBOX_LEASE_SECONDS (default 3)")
    parser.add_argument("--after", type=float, nargs=2, default=(0.5, 3.0), metavar=("MIN", "MAX"),
                        help="seconds of sending before the kill, drawn uniformly (default 0.5 3)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the final drain at most")
    parser.add_argument("--keep", action="store_true")
    opts = parser.parse_args(argv)
    if not (1 <= opts.messages <= 1_000_000 and 1 <= opts.cycles <= 100):
        parser.error("messages 1..1,000,000, cycles 1..100")

    rng = random.Random(opts.seed)
    relay = Relay()
    tmp = Path(tempfile.mkdtemp(prefix="bench_outbox_crash_"))
    secret_key = secrets.token_urlsafe(32)
    try:
        url = database_url(opts.database_url, tmp, "outbox_crash")
        app = make_app(url, secret_key)
        migrate(app)
        queue(app, opts.messages)
        relay.reset()
        print(f"engine {engine_label(url)}; {opts.messages} messages; {opts.cycles} kill -9 cycles; batch "
              f"{opts.batch}; lease {opts.lease:g} s; {machine_line()}", flush=True)
        env = worker_env(url, secret_key, relay, OUTBOX_LEASE_SECONDS=opts.lease)
        kills = 0
        for cycle in range(1, opts.cycles + 1):
            before = relay.requests()
            worker = start_worker(env, tmp / "worker.log", opts.batch)
            deadline = time.monotonic() + 120
            while relay.requests() == before and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(*opts.after))
            if worker.poll() is None:
                os.kill(worker.pid, signal.SIGKILL)
                kills += 1
            stop_worker(worker)
            counts = states(app)
            print(f"cycle {cycle}: killed; {counts['sent']} sent, {counts['sending']} claimed by the dead worker, "
                  f"{counts['queued'] + counts['failed']} waiting", flush=True)
            if counts["queued"] + counts["failed"] + counts["sending"] == 0:
                print("  the queue ran dry: fewer cycles than asked (queue more messages)", flush=True)
                break
        worker = start_worker(env, tmp / "worker.log", opts.batch)
        drained = wait_drained(app, opts.timeout, [worker])
        stop_worker(worker)
        result = check(id_states(app), relay.stats())
        ok = drained and not result.lost and not result.refused_not_dead and not result.pending \
            and not result.bad_signatures and not result.delivered_refused
        print(f"after {kills} kill -9: {result.line()} — {'ok' if ok else 'FAILED'} "
              f"(duplicates are reported, the goal is 0)", flush=True)
        print(f"after: {machine_line()}", flush=True)
        with app.app_context():
            from unionevents.extensions import db
            db.engine.dispose()
    finally:
        relay.close()
        if opts.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
