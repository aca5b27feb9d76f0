"""Core's command-line entry points: `flask outbox send`, `flask backup`, `flask restore`.

The domains' groups (`flask users ...`, `flask seed-demo` ...) are added by the app factory.
"""
from __future__ import annotations

import click
from flask import Flask


def register_cli(app: Flask) -> None:
    from .backup import backup_command, restore_command

    app.cli.add_command(outbox_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@click.group("outbox", help="Notification outbox.")
def outbox_cli():
    pass


@outbox_cli.command("send", help="Deliver queued messages with the configured sender.")
@click.option("--limit", default=500, show_default=True)
def outbox_send(limit: int):
    from .outbox import deliver_pending

    click.echo(f"sent {deliver_pending(limit)}")
