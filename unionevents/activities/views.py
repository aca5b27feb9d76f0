"""Worker-facing activity pages: the catalogue and one activity."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from ..access import current_actor, load_visible_activity
from ..accounts.models import Role
from ..core.permissions import public
from ..unions.services import tree_choices
from . import queries, services
from .models import ActivityKind
from .venue_links import map_links

bp = Blueprint("activities", __name__, url_prefix="/activities")
bp.add_app_template_global(map_links, "map_links")  # 导航 next to every venue shown (activity, ticket)


@bp.route("/")
@public
def catalogue():
    from ..registrations import services as registrations  # registrations builds on activities

    viewer = current_actor()
    filters = queries.parse_catalogue_filters(request.args, joinable_default=_is_worker(viewer))
    page = queries.catalogue(filters, viewer)
    return render_template("activities/catalogue.html", filters=filters, page=page,
                           verdicts=registrations.card_verdicts(viewer, page.items),
                           kinds=ActivityKind, nodes=tree_choices(queries.organiser_paths(
                               filters.node_id, getattr(viewer, "union_id", None))),
                           districts=queries.district_choices(), search_max=queries.MAX_SEARCH_LENGTH)


def _is_worker(user) -> bool:
    """Signed in without a union-wide role: the catalogue starts at what they can join (我可报名)."""
    return user is not None and user.is_authenticated and not user.has_any_role(
        Role.ADMIN, Role.ORGANISER, Role.OFFICER)


@bp.route("/<int:activity_id>")
@public
def detail(activity_id: int):
    from ..registrations import services as registrations

    viewer = current_actor()
    activity = load_visible_activity(activity_id, user=viewer)  # invitation only: log in first
    state = registrations.signup_state(viewer, activity)
    series_dates, series_left, whole_series = [], [], False
    if activity.series_id is not None:
        from .services import series

        series_dates = series.published_dates(activity.series_id)
        whole_series = series.get_series(activity.series_id).whole_series_signup
        series_left = registrations.series_signup_left(viewer, activity.series_id) if whole_series else []
    draw = registrations.published_draw(activity, viewer.id if viewer is not None else None)
    return render_template("activities/detail.html", activity=activity, state=state, draw=draw,
                           series_dates=series_dates, series_left=series_left, whole_series=whole_series)
