"""`flask health ...`: retention of health assessments."""
from __future__ import annotations

import click

from ..core.errors import DomainError


@click.group("health", help="Health assessments (sensitive personal information).")
def health_cli():
    pass


@health_cli.command("purge", help="Delete assessments older than HEALTH_RETENTION_DAYS (default 365).")
@click.option("--days", type=int, default=None, help="Override the retention period for this run.")
def purge_command(days: int | None):
    from .services import purge_expired, retention_days

    try:
        deleted = purge_expired(days)
    except DomainError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"deleted {deleted} health assessments older than {days or retention_days()} days")
