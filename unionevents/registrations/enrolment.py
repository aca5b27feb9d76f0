"""Enrolment on behalf of members: a workplace union's organiser signs its own members up for an
activity run by a union above it (issue 4, item 7).

Unions collect sign-ups through their workplace unions.  The organiser picks members from the
people whose union lies within the unit they organise, or uploads a sheet of mobile numbers and
names.  Each person goes through ``services.register(..., entered_by=organiser)``, so every rule
of the engine holds (eligibility, capacity, the unit's quota, the waiting list; no health service
on someone else's behalf); this module adds only what is particular to enrolment:

* the unit must be within the organiser's scope and the activity's union at or above it;
* the sign-up window must be open (the engine waives it for door walk-ins, not for enrolment);
* in quota mode the places come from the quota of the unit that covers the organiser's union;
* members outside the unit are never registered (reported as refused);
* new mobile numbers get an unactivated account in the unit and a welcome SMS (the worker logs in
  with an SMS code);
* each person enrolled is told by message who enrolled them and how to cancel.

The result names every person: confirmed / waitlisted / pending / already registered / refused
with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, url_for
from flask_babel import force_locale, gettext, lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..accounts.models import Role, User
from ..accounts.sheets import SheetError, cell_text, column_key, sheet_rows
from ..activities.models import Activity, ActivityKind, ActivityStatus, SignupMode, Visibility
from ..core.audit import Ref, log_action
from ..core.db import write_transaction
from ..core.errors import DomainError, NotAllowed, NotFound, ValidationFailed
from ..core.masking import mask_mobile
from ..core.outbox import enqueue
from ..core.permissions import has_role, scope_nodes
from ..core.timeutil import now
from ..core.quoting import quotable
from ..extensions import db
from ..unions.models import UnionNode
from . import rules, services
from .models import RegistrationState as S

#: Most people one enrolment (ticked or uploaded) may name.
ENROL_LIMIT = 500
#: Members shown per page of the checklist.
MEMBERS_PER_PAGE = 50
SEARCH_MAX = 40

NOTICE_KIND = "registration.enrolled"


def _notice_texts(_l=lambda text: text):  # noqa: N807 - named _l so pybabel extracts the strings
    """English source strings, translated at send time in the recipient's language."""
    return (_l("You have been signed up"),
            _l("%(organiser)s of %(union)s has signed you up for “%(title)s” on %(when)s (%(state)s). "
               "If you cannot come, please cancel it under My registrations: %(url)s"))


NOTICE_SUBJECT, NOTICE_BODY = _notice_texts()

MSG_NOT_MEMBER = _l("This person is not a member of your union, so you cannot enrol them.")
MSG_NAME_NEEDED = _l("No account has this mobile number yet. Please give the worker's name in the sheet.")
MSG_DUPLICATE_ROW = _l("This mobile number appears twice in the sheet; it was enrolled once.")


class NotEnrollable(NotAllowed):
    code = "not_enrollable"
    default_message = _l("Your union cannot enrol members for this activity.")


# --------------------------------------------------------------------------- what can be enrolled into

@dataclass
class EnrolOption:
    """An activity the organiser's ``unit`` may enrol members into."""

    activity: Activity
    unit: UnionNode
    quota_node: UnionNode | None = None  # the quota the places come from (quota mode)
    quota_left: int | None = None

    @property
    def places_left(self) -> int:
        left = self.activity.places_left
        return min(left, self.quota_left) if self.quota_left is not None else left


def organiser_units(organiser: User) -> list[UnionNode]:
    """The unions an organiser enrols for: the nodes of their organiser grants (admins: the roots)."""
    return sorted(scope_nodes(organiser, Role.ORGANISER), key=lambda n: n.path)


def _covers(upper_path: str, lower_path: str) -> bool:
    return lower_path.startswith(upper_path)


def enrol_refusal(activity: Activity, unit: UnionNode, at: datetime | None = None):
    """Why ``unit`` cannot enrol members into ``activity`` (a message), or None with the quota node.

    Returns ``(message, None)`` or ``(None, quota_node)``.
    """
    at = at or now()
    if activity.status != ActivityStatus.PUBLISHED:
        return _l("This activity is not published."), None
    if activity.kind == ActivityKind.HEALTH:
        return _l("A health service needs the worker's own consent, so nobody can be signed up for one by "
                  "someone else."), None
    if not _covers(activity.node.path, unit.path):
        return _l("Only activities run by your union or a union above it can be enrolled into."), None
    window = rules.window_state(at, activity.signup_opens_at, activity.signup_closes_at)
    if window.value != "open":
        return _l("Sign-up for this activity is not open."), None
    if activity.eligible_nodes and not any(
            _covers(e.node.path, unit.path) or _covers(unit.path, e.node.path)
            for e in activity.eligible_nodes):
        return _l("This activity is not open to your union's members."), None
    quota_node = None
    if activity.mode == SignupMode.QUOTA or activity.visibility == Visibility.INVITATION:
        covering = [q for q in activity.unit_quotas if _covers(q.node.path, unit.path)]
        if not covering:
            return _l("Your union has no quota for this activity."), None
        quota_node = max(covering, key=lambda q: len(q.node.path)).node
    return None, quota_node


def _option(activity: Activity, unit: UnionNode) -> EnrolOption | None:
    message, quota_node = enrol_refusal(activity, unit)
    if message is not None:
        return None
    quota_left = None
    if activity.mode == SignupMode.QUOTA and quota_node is not None:
        quota = next(q for q in activity.unit_quotas if q.node_id == quota_node.id)
        quota_left = max(quota.quota - quota.used, 0)
    return EnrolOption(activity, unit, quota_node, quota_left)


def enrollable_activities(organiser: User) -> list[EnrolOption]:
    """Published activities with an open window that one of the organiser's units may enrol into."""
    units = organiser_units(organiser)
    if not units:
        return []
    at = now()
    ancestor_ids = {int(part) for unit in units for part in unit.path.strip("/").split("/") if part}
    candidates = db.session.scalars(
        select(Activity).where(Activity.status == ActivityStatus.PUBLISHED,
                               Activity.node_id.in_(ancestor_ids),
                               Activity.kind != ActivityKind.HEALTH, Activity.signup_opens_at <= at,
                               Activity.signup_closes_at > at)
        # Each candidate is judged against its eligible unions and quotas: they come with the list.
        .options(selectinload(Activity.eligible_nodes), selectinload(Activity.unit_quotas))
        .order_by(Activity.starts_at, Activity.id)).all()
    options = []
    for activity in candidates:
        for unit in units:
            option = _option(activity, unit)
            if option is not None:
                options.append(option)
    return options


def load_option(organiser: User, activity_id: int, unit_id: int) -> EnrolOption:
    """The activity and unit of an enrolment page: NotFound, NotAllowed (unit out of scope) or
    NotEnrollable (with the reason) unless the organiser may enrol there."""
    unit = db.session.get(UnionNode, unit_id) if isinstance(unit_id, int) else None
    activity = db.session.get(Activity, activity_id) if isinstance(activity_id, int) else None
    if unit is None or activity is None or activity.status == ActivityStatus.DRAFT:
        raise NotFound(_l("This activity does not exist."))
    if not has_role(organiser, Role.ORGANISER, node=unit):
        raise NotAllowed(_l("You do not organise this union."))
    message, _quota_node = enrol_refusal(activity, unit)
    if message is not None:
        raise NotEnrollable(message)
    return _option(activity, unit)


# --------------------------------------------------------------------------- the members to pick from

@dataclass
class MembersPage:
    items: list[User]
    total: int
    page: int
    per_page: int
    registered: dict[int, S] = field(default_factory=dict)  # user id → live state for this activity

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total


def _search_clause(q: str):
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(User.name.like(pattern, escape="\\"), User.mobile.like(pattern, escape="\\"))


def members_page(option: EnrolOption, q: str = "", page: int = 1,
                 per_page: int = MEMBERS_PER_PAGE) -> MembersPage:
    """Accounts whose union lies within the unit, by name, filtered by name or mobile digits."""
    from .models import Registration

    q = (q or "").strip()[:SEARCH_MAX]
    where = [User.union_id.in_(option.unit.subtree_ids_select()), User.erased_at.is_(None)]
    if q:
        where.append(_search_clause(q))
    total = db.session.scalar(select(func.count(User.id)).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    items = list(db.session.scalars(select(User).where(*where).order_by(User.name, User.id)
                                    .limit(per_page).offset((page - 1) * per_page)))
    registered = dict(db.session.execute(
        select(Registration.user_id, Registration.state).where(
            Registration.activity_id == option.activity.id, Registration.is_live,
            Registration.user_id.in_([u.id for u in items]))).all()) if items else {}
    return MembersPage(items, total, page, per_page, registered)


# --------------------------------------------------------------------------- enrolling

#: Outcome statuses, in the order the report lists them.
CONFIRMED, WAITLISTED, PENDING, ALREADY, REFUSED = "confirmed", "waitlisted", "pending", "already", "refused"
STATUS_TITLES = {
    CONFIRMED: _l("Confirmed"),
    WAITLISTED: _l("On the waiting list"),
    PENDING: _l("Awaiting approval or the draw"),
    ALREADY: _l("Already registered"),
    REFUSED: _l("Refused"),
}


@dataclass
class EnrolOutcome:
    name: str
    masked_mobile: str  # 138****1234
    status: str
    reason: str = ""
    user_id: int | None = None
    registration_id: int | None = None
    created_account: bool = False
    row: int | None = None  # the sheet's row number, for uploads

    @property
    def status_title(self) -> str:
        return str(STATUS_TITLES[self.status])


@dataclass
class EnrolResult:
    outcomes: list[EnrolOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def created_accounts(self) -> int:
        return sum(1 for o in self.outcomes if o.created_account)


def _error_reason(error: DomainError) -> str:
    if isinstance(error, ValidationFailed) and error.errors:
        if any(key.startswith("q") and key[1:].isdigit() for key in error.errors):
            return str(_l("This activity asks questions the worker must answer; they need to sign up "
                          "themselves."))
        return " ".join(str(m) for messages in error.errors.values() for m in messages)
    reasons = getattr(error, "reasons", None)
    if reasons:
        return " ".join(str(r) for r in reasons)
    return str(error.message)


def _my_registrations_url() -> str:
    try:
        return url_for("registrations.my_registrations", _external=True)
    except RuntimeError:
        return "/me/registrations"


def _notify_enrolled(option: EnrolOption, organiser: User, user: User, registration) -> None:
    starts_at = registration.slot.starts_at if registration.slot is not None else option.activity.starts_at
    url = _my_registrations_url()
    with write_transaction(), force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        enqueue(user.id, NOTICE_KIND, gettext(NOTICE_BODY, organiser=organiser.name, union=option.unit.name,
                                              title=quotable(option.activity.title), when=rules.local_time(starts_at),
                                              state=str(registration.state.title), url=url),
                subject=gettext(NOTICE_SUBJECT), activity_id=option.activity.id)


def _enrol_one(option: EnrolOption, organiser: User, user: User, slot_id, outcome: EnrolOutcome) -> None:
    try:
        registration = services.register(
            user, option.activity.id, slot_id=slot_id, entered_by=organiser,
            unit_node_id=option.quota_node.id if option.quota_node is not None else None)
    except services.AlreadyRegistered as already:
        outcome.status, outcome.registration_id = ALREADY, already.registration_id
        outcome.reason = str(_l("Already registered for this activity."))
        return
    except DomainError as error:
        outcome.status, outcome.reason = REFUSED, _error_reason(error)
        return
    outcome.registration_id = registration.id
    outcome.status = {S.CONFIRMED: CONFIRMED, S.WAITLISTED: WAITLISTED}.get(registration.state, PENDING)
    if registration.state == S.WAITLISTED:
        position = services.waitlist_position(registration)
        outcome.reason = str(_l("Number %(position)d on the waiting list.", position=position or 0))
    _notify_enrolled(option, organiser, user, registration)


def _check_slot(option: EnrolOption, slot_id) -> int | None:
    if not option.activity.uses_slots:
        return None
    try:
        key = int(slot_id)
    except (TypeError, ValueError):
        key = None
    if key is None or not any(s.id == key for s in option.activity.slots):
        raise ValidationFailed({"slot_id": [str(_l("Please choose a time slot."))]})
    return key


def _clean_user_ids(values) -> list[int]:
    ids = services.clean_ids(values) if len(values or ()) <= services.BULK_LIMIT else None
    if ids is None or len(ids) > ENROL_LIMIT:
        raise ValidationFailed({"ids": [str(_l("Please choose at most %(n)d people at a time.",
                                               n=ENROL_LIMIT))]})
    if not ids:
        raise ValidationFailed({"ids": [str(_l("Please tick at least one member."))]})
    return ids


def _audit(organiser: User, option: EnrolOption, result: EnrolResult, source: str) -> None:
    with write_transaction():
        log_action(organiser.id, "registration.enrol", Ref("activity", option.activity.id),
                   unit_node_id=option.unit.id, source=source,
                   **{status: result.count(status) for status in STATUS_TITLES},
                   created_accounts=result.created_accounts)


def enrol_members(organiser: User, activity_id: int, unit_node_id: int, user_ids, *,
                  slot_id=None) -> EnrolResult:
    """Register the chosen members of the organiser's unit for the activity; one outcome per person.

    Raises NotFound / NotAllowed / NotEnrollable for the activity or unit as a whole and
    ValidationFailed for an empty choice or a missing slot; a person who cannot be registered is
    reported, never raised.  Ids that are not members of the unit are refused, not registered.
    """
    option = load_option(organiser, activity_id, unit_node_id)
    ids = _clean_user_ids(user_ids)
    slot = _check_slot(option, slot_id)
    members = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_(ids), User.union_id.in_(option.unit.subtree_ids_select()), User.erased_at.is_(None)))}
    result = EnrolResult()
    for user_id in ids:
        user = members.get(user_id)
        if user is None:
            result.outcomes.append(EnrolOutcome(name="", masked_mobile="", status=REFUSED,
                                                reason=str(MSG_NOT_MEMBER),
                                                user_id=user_id))
            continue
        outcome = EnrolOutcome(name=user.name, masked_mobile=mask_mobile(user.mobile), status=REFUSED,
                               user_id=user.id)
        _enrol_one(option, organiser, user, slot, outcome)
        result.outcomes.append(outcome)
    _audit(organiser, option, result, "members")
    return result


# --------------------------------------------------------------------------- enrolling from a sheet

@dataclass
class _SheetRow:
    number: int
    mobile: str
    name: str


def _sheet_rows(data: bytes, filename: str) -> list[_SheetRow]:
    """Rows of a sheet with a mobile column and an optional name column (the import's headers)."""
    from ..accounts.services import normalise_mobile

    def fail(message):
        raise ValidationFailed({"file": [str(message)]})

    if not data or not data.strip():
        fail(_l("The file is empty."))
    try:
        columns: dict[str, int] | None = None
        rows: list[_SheetRow] = []
        for number, raw in enumerate(sheet_rows(data, filename), start=1):
            cells = [cell_text(value) for value in raw]
            if not any(cells):
                continue
            if columns is None:
                columns = {}
                for index, cell in enumerate(cells):
                    key = column_key(cell)
                    if key in ("mobile", "name") and key not in columns:
                        columns[key] = index
                if "mobile" not in columns:
                    fail(_l("The header row needs a column 手机号 (mobile number) and may have 姓名 (name)."))
                continue
            if len(rows) >= ENROL_LIMIT:
                fail(_l("The sheet has more than %(n)d people. Please split it.", n=ENROL_LIMIT))

            def cell(key: str) -> str:
                index = columns.get(key)
                return cells[index].strip() if index is not None and index < len(cells) else ""

            rows.append(_SheetRow(number, normalise_mobile(cell("mobile")), cell("name")))
    except SheetError as error:
        fail(error.message)
    if not rows:
        fail(_l("The sheet has no people to enrol."))
    return rows


def _account_for_row(option: EnrolOption, organiser: User, row: _SheetRow,
                     outcome: EnrolOutcome) -> User | None:
    """The member's account, or a new unactivated one in the unit (with a welcome SMS)."""
    from ..accounts.codes import send_welcome
    from ..accounts.services import create_user, find_by_mobile, mobile_error

    error = mobile_error(row.mobile)
    if error:
        outcome.reason = str(error)
        return None
    user = find_by_mobile(row.mobile)
    if user is None:
        if not row.name:
            outcome.reason = str(MSG_NAME_NEEDED)
            return None
        try:
            with write_transaction():
                user = create_user(row.mobile, row.name, None, union=option.unit, created_by=organiser,
                                   activated=False)
                send_welcome(user)
            outcome.created_account = True
        except IntegrityError:
            db.session.rollback()
            user = find_by_mobile(row.mobile)
        except ValidationFailed as invalid:
            db.session.rollback()
            outcome.reason = _error_reason(invalid)
            return None
        if user is None:
            outcome.reason = str(_l("The account could not be made. Please try again."))
            return None
    if user.erased_at is not None or user.union is None or not _covers(option.unit.path, user.union.path):
        outcome.reason = str(MSG_NOT_MEMBER)
        return None
    outcome.name, outcome.user_id = user.name, user.id
    return user


def enrol_spreadsheet(organiser: User, activity_id: int, unit_node_id: int, data: bytes, filename: str, *,
                      slot_id=None) -> EnrolResult:
    """Enrol the people of an uploaded sheet (CSV or XLSX: 手机号/mobile, 姓名/name).

    Known numbers must belong to members of the unit; unknown numbers get an unactivated account in
    the unit and a welcome SMS, then are registered like picked members.
    """
    option = load_option(organiser, activity_id, unit_node_id)
    slot = _check_slot(option, slot_id)
    rows = _sheet_rows(data, filename)
    seen: set[str] = set()
    result = EnrolResult()
    for row in rows:
        outcome = EnrolOutcome(name=row.name, masked_mobile=mask_mobile(row.mobile), status=REFUSED,
                               row=row.number)
        result.outcomes.append(outcome)
        if row.mobile in seen:
            outcome.reason = str(MSG_DUPLICATE_ROW)
            continue
        seen.add(row.mobile)
        user = _account_for_row(option, organiser, row, outcome)
        if user is not None:
            _enrol_one(option, organiser, user, slot, outcome)
    _audit(organiser, option, result, "sheet")
    return result


__all__ = ["ENROL_LIMIT", "EnrolOption", "EnrolOutcome", "EnrolResult", "NotEnrollable", "enrol_members",
           "enrol_refusal", "enrol_spreadsheet", "enrollable_activities", "load_option", "members_page",
           "organiser_units"]
