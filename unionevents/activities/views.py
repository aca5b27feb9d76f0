"""Worker-facing activity pages: the catalogue and one activity."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from ..core.permissions import public
from ..extensions import login_manager
from ..unions.services import tree_choices
from . import queries, services
from .models import ActivityKind

bp = Blueprint("activities", __name__, url_prefix="/activities")


def _viewer():
    return current_user._get_current_object() if current_user.is_authenticated else None


@bp.route("/")
@public
def catalogue():
    filters = queries.parse_catalogue_filters(request.args)
    page = queries.catalogue(filters, _viewer())
    return render_template("activities/catalogue.html", filters=filters, page=page,
                           kinds=ActivityKind, nodes=tree_choices(),
                           districts=queries.district_choices())


@bp.route("/<int:activity_id>")
@public
def detail(activity_id: int):
    from ..registrations import services as registrations

    viewer = _viewer()
    try:
        activity = services.get_visible_activity(activity_id, viewer)
    except services.LoginNeeded:
        return login_manager.unauthorized()  # invitation only: log in, then come back here
    state = registrations.signup_state(viewer, activity)
    return render_template("activities/detail.html", activity=activity, state=state)
