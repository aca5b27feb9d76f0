"""Which activities a worker may see: the upcoming list, published or cancelled ones, and
invitation-only ones for the invited."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ...accounts.models import Role, User
from ...core.errors import DomainError, NotFound
from ...core.permissions import has_role
from ...core.timeutil import now
from ...extensions import db
from ...registrations.models import Registration
from ..models import Activity, ActivityStatus, Visibility


def upcoming_activities(limit: int = 12) -> list[Activity]:
    """Published activities that have not ended, soonest first."""
    stmt = (
        select(Activity)
        .where(Activity.status == ActivityStatus.PUBLISHED, Activity.ends_at >= now(),
               Activity.visibility != Visibility.INVITATION)
        .order_by(Activity.starts_at, Activity.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def get_activity(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    return activity


class LoginNeeded(DomainError):
    """An anonymous visitor asked for something only some logged-in people may see (HTML views send
    them to the login page; the API answers 401)."""
    http_status = 401
    code = "login_required"
    default_message = _l("Please log in first.")


def get_visible_activity(activity_id: int, viewer: User | None) -> Activity:
    """An activity ``viewer`` (None: anonymous) may look at: published or cancelled (drafts are only for
    organisers), and for an invitation-only one, only someone ``may_see_invitation`` allows.

    Raises NotFound — also when a logged-in person may not see it, so nobody learns it exists — or
    LoginNeeded for an anonymous visitor asking for an invitation-only activity.
    """
    # Who may join is judged on every page that shows one activity: its eligibility lists come in the
    # activity's own statement (each is a few rows at most), not in two more.
    activity = db.session.get(Activity, activity_id, options=(
        joinedload(Activity.eligible_occupations), joinedload(Activity.eligible_nodes)))
    if activity is None or activity.status == ActivityStatus.DRAFT:
        raise NotFound(_l("This activity does not exist."))
    if activity.visibility == Visibility.INVITATION and not may_see_invitation(viewer, activity):
        if viewer is None:
            raise LoginNeeded()
        raise NotFound(_l("This activity does not exist."))
    return activity


def may_see_invitation(user: User | None, activity: Activity) -> bool:
    """May ``user`` see invitation-only ``activity`` (docs/design-decisions.md, "Activities")?

    Yes for: organisers and officers whose scope covers the activity's union (admins everywhere); anyone
    holding a role for this activity (medical staff, judges); workers whose union is an invited unit or
    lies inside one; organisers of an invited unit, of a union above one, or of a union inside one (they
    enrol their members); and anyone registered for it.  Invited units are the unit quotas and the
    eligible unions.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if has_role(user, Role.ORGANISER, node=activity.node) or has_role(user, Role.OFFICER, node=activity.node):
        return True
    if any(grant.activity_id == activity.id for grant in user.grants):
        return True
    invited = [quota.node.path for quota in activity.unit_quotas] + \
              [eligible.node.path for eligible in activity.eligible_nodes]
    union = user.union
    if union is not None and any(union.path.startswith(path) for path in invited):
        return True
    for grant in user.grants:
        if grant.role == Role.ORGANISER and grant.node is not None and any(
                grant.node.path.startswith(path) or path.startswith(grant.node.path) for path in invited):
            return True
    return db.session.scalar(select(Registration.id).where(
        Registration.activity_id == activity.id, Registration.user_id == user.id).limit(1)) is not None
