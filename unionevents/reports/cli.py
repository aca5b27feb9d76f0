"""`flask reports rebuild` and `flask reports check`."""
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
