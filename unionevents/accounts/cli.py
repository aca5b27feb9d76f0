"""`flask users ...`: create and import accounts, grant roles, print API tokens."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..core.db import write_transaction
from ..core.errors import DomainError, ValidationFailed
from ..extensions import db
from ..unions.services import find_by_name
from . import services
from .models import ACTIVITY_SCOPED_ROLES, Occupation, Role


def _fail(error: DomainError) -> None:
    if isinstance(error, ValidationFailed) and error.errors:
        for field, messages in error.errors.items():
            click.echo(f"{field}: {' '.join(messages)}", err=True)
    else:
        click.echo(str(error.message), err=True)
    raise SystemExit(1)


@click.group("users", help="Manage accounts and roles.")
def users_cli():
    pass


@users_cli.command("create")
@click.option("--mobile", required=True)
@click.option("--name", required=True)
@click.option("--password", default=None, help="Omit to create an account that is activated later.")
@click.option("--union", "union_name", default=None, help="Full name of the workplace union.")
@click.option("--occupation", type=click.Choice([o.value for o in Occupation]), default="other")
@with_appcontext
def create_user_command(mobile, name, password, union_name, occupation):
    union = None
    if union_name:
        union = find_by_name(union_name)
        if union is None:
            click.echo(f"unknown union: {union_name}", err=True)
            raise SystemExit(1)
    try:
        with write_transaction():
            user = services.create_user(mobile, name, password, union=union, occupation=Occupation(occupation))
    except DomainError as error:
        _fail(error)
    click.echo(f"created user {user.id} ({user.masked_mobile})")


@users_cli.command("grant")
@click.argument("mobile")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.option("--node", "node_name", default=None, help="Full name of the union node the role covers.")
@click.option("--activity", "activity_id", type=int, default=None, help="Activity id (judge, medical).")
@with_appcontext
def grant_command(mobile, role, node_name, activity_id):
    user = services.find_by_mobile(mobile)
    if user is None:
        click.echo(f"no user with mobile {mobile}", err=True)
        raise SystemExit(1)
    role = Role(role)
    node = None
    if role not in ACTIVITY_SCOPED_ROLES:
        node = find_by_name(node_name or "")
        if node is None:
            click.echo(f"unknown union node: {node_name}", err=True)
            raise SystemExit(1)
    try:
        with write_transaction():
            services.grant_role(user, role, node=node, activity_id=activity_id)
    except DomainError as error:
        _fail(error)
    scope = node.name if node else f"activity {activity_id}"
    click.echo(f"granted {role.value} on {scope} to {user.masked_mobile}")


@users_cli.command("token")
@click.argument("mobile")
@click.option("--label", default="cli")
@with_appcontext
def token_command(mobile, label):
    """Print a new API token for MOBILE (only its digest is stored)."""
    user = services.find_by_mobile(mobile)
    if user is None:
        click.echo(f"no user with mobile {mobile}", err=True)
        raise SystemExit(1)
    click.echo(services.issue_token(user, label))


@users_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_command(file):
    """Import workers from a CSV or XLSX FILE: all rows or none (see accounts/imports/)."""
    from pathlib import Path

    from .imports import import_workers

    path = Path(file)
    try:
        report = import_workers(path.read_bytes(), path.name, actor=None)
    except DomainError as error:
        db.session.rollback()
        _fail(error)
    if not report.ok:
        for error in report.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(report.errors)} errors; nothing was imported.", err=True)
        raise SystemExit(1)
    click.echo(f"rows {report.rows}: created {report.created}, updated {report.updated}, "
               f"unchanged {report.unchanged}, activation codes sent {report.activation_codes}")


# --------------------------------------------------------------------------- `flask privacy ...`

@click.group("privacy", help="Personal data: retention jobs and erasure on request.")
def privacy_cli():
    pass


@privacy_cli.command("purge-outbox")
@with_appcontext
def purge_outbox_command():
    """Delete sent notifications older than OUTBOX_RETENTION_DAYS (run daily from a timer)."""
    from ..core.retention import run_job

    click.echo(f"deleted {run_job('outbox')} sent messages")


@privacy_cli.command("purge-all")
@with_appcontext
def purge_all_command():
    """Run every registered retention job."""
    from ..core.retention import run_all

    for name, count in run_all().items():
        click.echo(f"{name}: deleted {count}")


@privacy_cli.command("erase")
@click.argument("mobile")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def erase_command(mobile, yes):
    """Delete the account with MOBILE (a worker's written request handled by an administrator)."""
    from .privacy import erase_account

    user = services.find_by_mobile(mobile)
    if user is None or user.erased_at is not None:
        click.echo(f"no account with mobile {mobile}", err=True)
        raise SystemExit(1)
    if not yes:
        click.confirm(f"Delete account {user.id} ({user.masked_mobile})?", abort=True)
    erase_account(user)
    click.echo(f"erased account {user.id}")
