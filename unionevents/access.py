"""Load and authorise: the one answer to "where is scope checked?" for pages and the API alike.

A route's decorator (``core.permissions``: ``public``, ``login_required``, ``role_required``; the API's
``token_required``) says who may reach the route at all.  The loaders here fetch the object the route is
about and check the person's scope over *that* object, by one rule:

- **404** when it does not exist, or when the person may not even learn it exists (a draft, an
  invitation-only activity they were not invited to, a swap page of an activity that is no swap, a
  contest not set up yet);
- **403** when it exists but lies outside the person's scope for every role the view names.  A
  union-scoped role (organiser, officer; admins hold these everywhere) covers an activity whose union
  lies in the holder's subtree; an activity-scoped role (medical staff, judge) covers that one activity.

Both answers are ``NotFound`` / ``NotAllowed`` domain errors, so an HTML view shows the error page and
the API answers JSON from the same raise.  HTML views pass nobody (the logged-in person is used); API
views pass the token's user.  Services still refuse an actor out of scope for the writes they do (the
CLI reaches them without a view); their test is ``core.permissions.has_role`` — the same predicate.

Also here: the shared bits every HTML view needs — ``current_actor``, ``flash_error``, ``apply_errors``
and ``check_action_form``.
"""
from __future__ import annotations

from flask import abort, flash
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .accounts.models import Role, User
from .activities.models import Activity, ActivityKind
from .core.errors import DomainError, NotAllowed, NotFound, ValidationFailed, wants_json
from .core.permissions import has_role
from .extensions import db, login_manager
from .unions.models import UnionNode

#: Roles granted on one activity rather than on a union (checked by activity id, never by union).
ACTIVITY_ROLES = frozenset({Role.MEDICAL, Role.JUDGE})

MSG_NO_ACTIVITY = _l("This activity does not exist.")
MSG_NO_CONTEST = _l("This contest is not open for entries yet.")
MSG_NO_UNION = _l("This union does not exist.")
MSG_NOT_ORGANISER = _l("Only organisers can do this.")
MSG_NOT_YOURS = _l("You do not organise this activity.")
MSG_NOT_YOUR_UNION = _l("You do not organise this union.")
MSG_FORBIDDEN = _l("You do not have permission to see this page.")

_CURRENT = object()  # "the logged-in person of this request"


# --------------------------------------------------------------------------- who is asking

def current_actor() -> User | None:
    """The logged-in person of an HTML request (the real object, not the proxy), or None."""
    return current_user._get_current_object() if current_user.is_authenticated else None


def _who(user) -> User | None:
    return current_actor() if user is _CURRENT else user


# --------------------------------------------------------------------------- the rule

def holds(user: User | None, roles, *, node: UnionNode | None = None, activity: Activity | None = None) -> bool:
    """Does ``user`` hold one of ``roles`` over ``node`` (or over ``activity``)?  With neither: anywhere."""
    for role in roles:
        if activity is not None:
            if role in ACTIVITY_ROLES:
                if has_role(user, role, activity_id=activity.id):
                    return True
            elif has_role(user, role, node=activity.node):
                return True
        elif has_role(user, role, node=node):
            return True
    return False


def _refuse(roles) -> NotAllowed:
    return NotAllowed(MSG_NOT_YOURS if set(roles) == {Role.ORGANISER} else MSG_FORBIDDEN)


def require_any_role(*roles: Role, user=_CURRENT) -> User:
    """The person, if they hold one of ``roles`` somewhere (the API's version of ``role_required``)."""
    person = _who(user)
    if person is None or not holds(person, roles):
        raise NotAllowed(MSG_NOT_ORGANISER if set(roles) == {Role.ORGANISER} else MSG_FORBIDDEN)
    return person


# --------------------------------------------------------------------------- loaders

def load_activity(activity_id: int, *roles: Role, kind: ActivityKind | None = None, user=_CURRENT) -> Activity:
    """The activity, if the person holds one of ``roles`` over it: 404 if missing, 403 if out of scope,
    then 404 if it is not of ``kind`` (the page asked for does not exist for this activity)."""
    if not roles:
        raise TypeError("load_activity needs at least one role")
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(MSG_NO_ACTIVITY)
    if not holds(_who(user), roles, activity=activity):
        raise _refuse(roles)
    if kind is not None and activity.kind != kind:
        raise NotFound(MSG_NO_ACTIVITY)
    return activity


def load_node(node_id: int, *roles: Role, user=_CURRENT) -> UnionNode:
    """The union, if the person holds one of ``roles`` over it: 404 if missing, 403 if out of scope."""
    node = db.session.get(UnionNode, node_id)
    if node is None:
        raise NotFound(MSG_NO_UNION)
    if not holds(_who(user), roles, node=node):
        raise NotAllowed(MSG_NOT_YOUR_UNION if set(roles) == {Role.ORGANISER} else MSG_FORBIDDEN)
    return node


def load_visible_activity(activity_id: int, user=_CURRENT) -> Activity:
    """An activity the person may look at (``activities.services.get_visible_activity``: drafts and
    invitations they may not see are 404).  An anonymous visitor asking for an invitation-only one is
    sent to the login page (HTML) or answered 401 (API)."""
    from .activities.services import LoginNeeded, get_visible_activity

    try:
        return get_visible_activity(activity_id, _who(user))
    except LoginNeeded:
        if wants_json():
            raise
        abort(login_manager.unauthorized())  # log in, then come back here


def load_managed_contest(activity_id: int):
    """The organiser's activity and its contest: 404 until the contest is set up."""
    from .contests.services import contest_for_activity

    activity = load_activity(activity_id, Role.ORGANISER)
    contest = contest_for_activity(activity.id)
    if contest is None:
        raise NotFound()
    return activity, contest


def load_visible_contest(activity_id: int):
    """A contest anyone who may see its activity may look at: 404 until it is set up."""
    from .contests.services import contest_for_activity

    activity = load_visible_activity(activity_id)
    contest = contest_for_activity(activity.id)
    if contest is None:
        raise NotFound(MSG_NO_CONTEST)
    return activity, contest


def load_enrol_option(activity_id: int, unit_id: int):
    """An activity and one of the organiser's units that may enrol into it: 404 if either is missing (or a
    draft), 403 if the unit is outside the organiser's scope or may not enrol (with the reason)."""
    from .registrations.enrolment import load_option

    return load_option(current_actor(), activity_id, unit_id)  # type: ignore[arg-type]  # organisers' route


# --------------------------------------------------------------------------- forms and messages

def check_action_form() -> None:
    """One-button actions still need a valid CSRF token (400 otherwise)."""
    from .accounts.forms import EmptyForm

    if not EmptyForm().validate_on_submit():
        abort(400)


def flash_error(error: DomainError) -> None:
    """A service's refusal as flash messages, one per message."""
    if isinstance(error, ValidationFailed) and error.errors:
        for messages in error.errors.values():
            for message in messages:
                flash(str(message), "error")
    else:
        flash(str(error.message), "error")


def apply_errors(form, error: DomainError, field_map: dict[str, str] | None = None) -> None:
    """Put a service's messages on the matching form fields; the rest become form-level errors."""
    if isinstance(error, ValidationFailed) and error.errors:
        items = list(error.errors.items())
    else:
        items = [(error.field or "", [str(error.message)])]
    for key, messages in items:
        name = (field_map or {}).get(key, key)
        if name in form._fields:
            form[name].errors = list(form[name].errors) + [str(m) for m in messages]
        else:
            form.form_errors.extend(str(m) for m in messages)
