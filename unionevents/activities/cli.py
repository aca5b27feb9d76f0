"""`flask activities ...`: operations on activities from the command line."""
from __future__ import annotations

import click

from ..core.errors import DomainError


@click.group("activities", help="Operate on activities.")
def activities_cli():
    pass


@activities_cli.command("draw", help="Draw the lottery of activity ID (after its sign-up has closed).")
@click.argument("activity_id", type=int)
@click.option("--seed", default=None, help="Seed of the draw (default: a random one, which is printed).")
def draw_command(activity_id: int, seed: str | None):
    from ..registrations.services import draw_lottery

    try:
        result = draw_lottery(activity_id, actor=None, seed=seed)
    except DomainError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"activity {result.activity_id}: confirmed {result.confirmed}, "
               f"waitlisted {result.waitlisted}, not drawn {result.not_drawn}")
    click.echo(f"seed {result.seed}")
