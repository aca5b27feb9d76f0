"""`flask activities ...`: operations on activities from the command line."""
from __future__ import annotations

import click


@click.group("activities", help="Operate on activities.")
def activities_cli():
    pass
