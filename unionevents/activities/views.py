"""Worker-facing activity pages: the catalogue and one activity."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from ..access import current_actor, load_visible_activity
from ..core.permissions import public
from ..unions.services import tree_choices
from . import queries, services
from .models import ActivityKind

bp = Blueprint("activities", __name__, url_prefix="/activities")


@bp.route("/")
@public
def catalogue():
    filters = queries.parse_catalogue_filters(request.args)
    page = queries.catalogue(filters, current_actor())
    return render_template("activities/catalogue.html", filters=filters, page=page,
                           kinds=ActivityKind, nodes=tree_choices(),
                           districts=queries.district_choices(), search_max=queries.MAX_SEARCH_LENGTH)


@bp.route("/<int:activity_id>")
@public
def detail(activity_id: int):
    from ..registrations import services as registrations

    viewer = current_actor()
    activity = load_visible_activity(activity_id, user=viewer)  # invitation only: log in first
    state = registrations.signup_state(viewer, activity)
    series_dates, series_left, whole_series = [], [], False
    if activity.series_id is not None:
        from .models import ActivityStatus
        from .services import series

        series_dates = [a for a in series.occurrences(activity.series_id) if a.status == ActivityStatus.PUBLISHED]
        whole_series = series.get_series(activity.series_id).whole_series_signup
        series_left = registrations.series_signup_left(viewer, activity.series_id) if whole_series else []
    draw = registrations.published_draw(activity, viewer.id if viewer is not None else None)
    return render_template("activities/detail.html", activity=activity, state=state, draw=draw,
                           series_dates=series_dates, series_left=series_left, whole_series=whole_series)
