"""`flask notifications remind`: queue the reminders that are due (docs/notifications.md)."""
from __future__ import annotations

import time

import click


@click.group("notifications", help="Reminders and offers that run on a timer.")
def notifications_cli():
    pass


@notifications_cli.command("remind", help="Queue the reminders that are due (run every minute from a "
                                          "timer, or keep running with --every).")
@click.option("--every", type=float, default=0, show_default=True,
              help="Keep running, every this many seconds (0: once, then exit).")
def remind_command(every: float):
    from ..extensions import db
    from .reminders import send_due_reminders

    while True:
        queued = send_due_reminders()
        db.session.remove()  # hold no snapshot or connection between runs
        if queued or not every:
            click.echo(f"queued {queued} reminders")
        if not every:
            return
        time.sleep(every)


@notifications_cli.command("expire-offers", help="Pass waiting-list offers whose deadline has come to the "
                                                 "next in line (run every minute from a timer, or --every).")
@click.option("--every", type=float, default=0, show_default=True,
              help="Keep running, every this many seconds (0: once, then exit).")
def expire_offers_command(every: float):
    from ..extensions import db
    from ..registrations.services import expire_offers

    while True:
        expired = expire_offers()
        db.session.remove()
        if expired or not every:
            click.echo(f"passed on {expired} expired offers")
        if not every:
            return
        time.sleep(every)
