"""`flask reports rebuild`, `flask reports check` and `flask reports settle`."""
from __future__ import annotations

import time

import click


@click.group("reports", help="Officer report summary tables.")
def reports_cli():
    pass


@reports_cli.command("rebuild", help="Recompute the report summary tables from scratch.")
def rebuild_command():
    from .services import rebuild

    started = time.perf_counter()
    sizes = rebuild()
    click.echo(" ".join(f"{table}={rows}" for table, rows in sizes.items())
               + f" in {time.perf_counter() - started:.1f}s")


@reports_cli.command("check", help="Compare the summary tables with a recount; exit 1 on a difference.")
@click.option("--show", default=20, show_default=True, help="How many differences to print.")
def check_command(show: int):
    from .services import check

    problems = check()
    for line in problems[:show]:
        click.echo(line)
    if problems:
        click.echo(f"{len(problems)} differences; run `flask reports rebuild`.")
        raise SystemExit(1)
    click.echo("summary tables agree with a recount")


@reports_cli.command("settle", help="Carry the reach rows sign-ups marked into the unique counts "
                                    "(run every minute from a timer, or keep running with --every).")
@click.option("--every", type=float, default=0, show_default=True,
              help="Keep running, settling every this many seconds (0: once, then exit).")
@click.option("--batch", type=click.IntRange(1, 100_000), default=None,
              help="Workers per write transaction (default: services.settle.SETTLE_BATCH).")
def settle_command(every: float, batch: int | None):
    from ..extensions import db
    from .services.settle import SETTLE_BATCH, settle_reach

    while True:
        started = time.perf_counter()
        rows = settle_reach(batch or SETTLE_BATCH)
        db.session.remove()  # hold no snapshot or connection between runs
        if rows or not every:
            click.echo(f"settled {rows} report_reach rows in {time.perf_counter() - started:.2f}s")
        if not every:
            return
        time.sleep(every)
