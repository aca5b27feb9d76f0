"""Worker-facing activity pages."""
from __future__ import annotations

from flask import Blueprint, render_template

from ..core.permissions import public
from . import services

bp = Blueprint("activities", __name__, url_prefix="/activities")


@bp.route("/<int:activity_id>")
@public
def detail(activity_id: int):
    activity = services.get_visible_activity(activity_id)
    return render_template("activities/detail.html", activity=activity)
