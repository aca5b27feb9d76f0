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


@outbox_cli.command("send", help="Deliver due messages once with the configured sender (for cron).")
@click.option("--limit", default=500, show_default=True, help="At most this many messages.")
def outbox_send(limit: int):
    from .outbox_delivery import deliver_due

    result = deliver_due(limit)
    click.echo(f"sent {result.sent}, failed {result.failed}, dead {result.dead}, deferred {result.deferred}")


@outbox_cli.command("worker", help="Deliver messages until SIGTERM/SIGINT; run one or more per machine.")
@click.option("--batch", type=click.IntRange(1, 1000), default=None,
              help="Messages claimed at a time (OUTBOX_BATCH_SIZE, 20).")
@click.option("--poll", type=click.FloatRange(0.05, 3600), default=None,
              help="Seconds to wait when nothing is due (OUTBOX_POLL_SECONDS, 2).")
def outbox_worker(batch: int | None, poll: float | None):
    """SIGTERM or SIGINT: the message in hand is finished and marked, the rest of the batch is handed
    back at once (no lease to wait for), and the process exits 0."""
    import logging
    import signal
    import threading

    from flask import current_app

    from .outbox import make_sender
    from .outbox_delivery import Result, run_worker

    config = current_app.config
    batch = batch or int(config.get("OUTBOX_BATCH_SIZE", 20))
    poll = poll or float(config.get("OUTBOX_POLL_SECONDS", 2.0))
    try:
        sender = make_sender(config)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    stop = threading.Event()

    def request_stop(signum, _frame):
        log.info("outbox worker: %s received, stopping after the message in hand", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log = logging.getLogger("unionevents.outbox")
    if not log.isEnabledFor(logging.INFO):
        log.setLevel(logging.INFO)

    def report(result: Result) -> None:
        if result.claimed:
            log.info("outbox worker: sent %s, failed %s, dead %s, deferred %s, handed back %s",
                     result.sent, result.failed, result.dead, result.deferred, result.released)

    click.echo(f"outbox worker: {config.get('OUTBOX_SENDER') or 'log'} sender, batch {batch}, poll {poll}s",
               err=True)
    total = run_worker(stop, batch_size=batch, poll_interval=poll, sender=sender, on_batch=report)
    click.echo(f"outbox worker stopped: sent {total.sent}, failed {total.failed}, dead {total.dead}, "
               f"handed back {total.released}", err=True)
