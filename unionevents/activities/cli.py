"""`flask activities ...`: operations on activities from the command line."""
from __future__ import annotations

import click

from ..core.errors import DomainError


@click.group("activities", help="Operate on activities.")
def activities_cli():
    pass


@activities_cli.command("draw", help="Draw the lottery of activity ID (after its sign-up has closed).")
@click.argument("activity_id", type=int)
@click.option("--seed", default=None, help="Seed of the draw, only for an activity published without a "
              "committed seed (default: the seed committed at publication, else a random one; printed).")
def draw_command(activity_id: int, seed: str | None):
    from ..registrations.services import draw_lottery

    try:
        result = draw_lottery(activity_id, actor=None, seed=seed)
    except DomainError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"activity {result.activity_id}: confirmed {result.confirmed}, "
               f"waitlisted {result.waitlisted}, not drawn {result.not_drawn}")
    click.echo(f"seed {result.seed}")


@activities_cli.command("verify-draw", help="Recompute the published draw of activity ID from its seed "
                        "and say whether it matches the hash shown before sign-up and the published order.")
@click.argument("activity_id", type=int)
def verify_draw_command(activity_id: int):
    from ..registrations.services import verify_draw

    try:
        check = verify_draw(activity_id)
    except DomainError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"activity {check.activity_id}: seed {check.seed}")
    click.echo(f"sha256(seed) {'matches' if check.hash_matches else 'does NOT match'} the published hash "
               f"{check.seed_hash}")
    click.echo(f"order of {len(check.order)} registrations {'matches' if check.order_matches else 'does NOT match'} "
               "random.Random(seed).shuffle(sorted ids)")
    if not check.matches:
        raise SystemExit(1)
    click.echo("draw verified")
