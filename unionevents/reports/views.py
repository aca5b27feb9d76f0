"""Officer reports: the dashboard over a union's subtree, drill-down, per-activity statistics, exports.

Officers (and admins) see the unions in their scope; an activity's statistics are open to the
officers and organisers whose scope covers its union.  Views parse, load-and-authorise, call one
query function and render.
"""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _

from ..access import current_actor, holds, load_activity
from ..accounts.models import Role
from ..activities.models import ActivityKind
from ..core.db import plan_each_run
from ..core.permissions import role_required
from ..core.timeutil import utc_to_local
from . import charts, exports, figures, queries  # noqa: F401 - figures registers providers

bp = Blueprint("reports", __name__, url_prefix="/reports")
bp.before_request(plan_each_run)  # reports read with plans made for their dates (core.db)

EXPORT_FORMATS = ("csv", "xlsx")


def _filter():
    """The report filter; an unknown union is 404, one outside the officer's scope 403 (``access.holds``)."""
    return queries.parse_filter(request.args, current_actor())


def _query_args(f: queries.ReportFilter, **changes) -> dict:
    args = {"node": f.node.id, "from": f.date_from.isoformat(), "to": f.date_to.isoformat(),
            "kind": [k.value for k in f.kinds]}
    args.update(changes)
    return args


def _percent(value):
    from flask_babel import format_percent

    return "–" if value is None else format_percent(value, "#,##0.0%")


def _dashboard_charts(dash) -> dict:
    child_labels = [_("%(name)s (own activities)", name=r.node.name) if r.own else r.node.name
                    for r in dash.by_child]
    child_values = [r.figures.unique_participants or 0 for r in dash.by_child]
    best = max(zip(child_values, child_labels), default=(0, ""))
    kinds = [(kind.title, figures.activities_held) for kind, figures in dash.by_kind]
    months = [row.label for row in dash.by_month]
    return {
        "children": charts.bar_chart(
            "chart-children", _("Unique participants by union"),
            _("Bar chart of the unique participants of each union below %(name)s; the most: %(best)s with "
              "%(n)d. The table beside it has every number.", name=dash.filter.node.name, best=best[1], n=best[0]),
            child_labels, child_values),
        "kinds": charts.bar_chart(
            "chart-kinds", _("Activities held by kind"),
            _("Bar chart of the activities held of each kind: %(list)s.",
              list=", ".join(f"{label} {value}" for label, value in kinds)),
            [label for label, _v in kinds], [value for _l, value in kinds]),
        "months": charts.line_chart(
            "chart-months", _("Monthly trend"),
            _("Line chart of registrations, places taken and attendances per month from %(first)s to "
              "%(last)s. The table beside it has every number.", first=months[0] if months else "",
              last=months[-1] if months else ""),
            months, [(_("Number of registrations"), [r.figures.registrations for r in dash.by_month]),
                     (_("Places taken"), [r.figures.places for r in dash.by_month]),
                     (_("Attended (checked in or gave books)"), [r.figures.attended for r in dash.by_month])]),
    }


@bp.get("/")
@role_required(Role.OFFICER)
def dashboard():
    f, errors = _filter()
    tops = queries.scope_tops(current_actor())
    dash = queries.dashboard(f)
    return render_template("reports/dashboard.html", dash=dash, f=f, errors=errors, tops=tops,
                           trail=queries.breadcrumbs(f.node, tops), charts=_dashboard_charts(dash),
                           kinds=list(ActivityKind), args=_query_args(f), query_args=_query_args,
                           percent=_percent), 422 if errors else 200


def _filename(f: queries.ReportFilter, fmt: str) -> str:
    return f"report-{f.node.id}-{f.date_from:%Y%m%d}-{f.date_to:%Y%m%d}.{fmt}"


@bp.get("/export.<fmt>")
@role_required(Role.OFFICER)
def export(fmt: str):
    if fmt not in EXPORT_FORMATS:
        abort(404)
    f, _errors = _filter()
    sheets = exports.dashboard_sheets(queries.dashboard(f))
    if fmt == "csv":
        return exports.csv_response(_filename(f, "csv"), sheets)
    return exports.xlsx_response(_filename(f, "xlsx"), sheets)


def slot_label(slot) -> str:
    start, end = utc_to_local(slot.starts_at), utc_to_local(slot.ends_at)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"


@bp.get("/activities/<int:activity_id>")
@role_required(Role.OFFICER, Role.ORGANISER)
def activity(activity_id: int):
    activity = load_activity(activity_id, Role.OFFICER, Role.ORGANISER)
    stats = queries.activity_stats(activity)
    states = [(s.title, n) for s, n in stats.by_state]
    state_chart = charts.bar_chart(
        "chart-states", _("Registrations by state"),
        _("Bar chart of this activity's registrations in each state: %(list)s.",
          list=", ".join(f"{label} {n}" for label, n in states)),
        [label for label, _n in states], [n for _label, n in states])
    officer = holds(current_actor(), [Role.OFFICER], activity=activity)
    return render_template("reports/activity.html", activity=activity, stats=stats, state_chart=state_chart,
                           slot_label=slot_label, officer=officer)


@bp.get("/activities/<int:activity_id>/export.<fmt>")
@role_required(Role.OFFICER, Role.ORGANISER)
def activity_export(activity_id: int, fmt: str):
    if fmt not in EXPORT_FORMATS:
        abort(404)
    activity = load_activity(activity_id, Role.OFFICER, Role.ORGANISER)
    sheets = exports.activity_sheets(queries.activity_stats(activity), slot_label)
    name = f"activity-{activity.id}-statistics.{fmt}"
    if fmt == "csv":
        return exports.csv_response(name, sheets)
    return exports.xlsx_response(name, sheets)

