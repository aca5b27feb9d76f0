"""`flask unions import FILE`: build or update the union tree from a federation's spreadsheet."""
from __future__ import annotations

import time
from pathlib import Path

import click
from flask.cli import with_appcontext

#: The command prints this many row errors at most (the count of all is printed).
ERRORS_SHOWN = 200


@click.group("unions", help="The union tree.")
def unions_cli():
    pass


@unions_cli.command("import", help="Import unions from a CSV or XLSX file (docs/unions.md); all or nothing.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only check the file; change nothing.")
@with_appcontext
def import_command(file: Path, check: bool):
    from .imports import check_file, import_unions

    started = time.perf_counter()
    data = file.read_bytes()
    report = check_file(data, file.name)[0] if check else import_unions(data, file.name)
    seconds = time.perf_counter() - started
    for error in report.errors[:ERRORS_SHOWN]:
        click.echo(str(error), err=True)
    if not report.ok:
        click.echo(f"{len(report.errors)} errors; nothing was imported ({report.rows} rows, {seconds:.1f}s).",
                   err=True)
        raise SystemExit(1)
    if check:
        click.echo(f"{report.rows} rows checked, no errors ({seconds:.1f}s); nothing was imported.")
        return
    click.echo(f"{report.rows} rows: {report.created} created, {report.updated} updated, {report.moved} moved, "
               f"{report.unchanged} unchanged in {seconds:.1f}s")
