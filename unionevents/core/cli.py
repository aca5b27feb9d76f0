"""Command-line entry points: `flask seed-demo`, `flask users ...`, `flask outbox send`."""
from __future__ import annotations

import click
from flask import Flask


def register_cli(app: Flask) -> None:
    from ..accounts.cli import users_cli
    from ..activities.cli import activities_cli
    from ..demo import seed_demo_command

    app.cli.add_command(users_cli)
    app.cli.add_command(activities_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(outbox_cli)
    from ..accounts.cli import privacy_cli
    from .backup import backup_command, restore_command

    app.cli.add_command(privacy_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)

    from ..health.cli import health_cli
    app.cli.add_command(health_cli)
    from ..reports.cli import reports_cli
    app.cli.add_command(reports_cli)


@click.group("outbox", help="Notification outbox.")
def outbox_cli():
    pass


@outbox_cli.command("send", help="Deliver queued messages with the configured sender.")
@click.option("--limit", default=500, show_default=True)
def outbox_send(limit: int):
    from .outbox import deliver_pending

    click.echo(f"sent {deliver_pending(limit)}")
