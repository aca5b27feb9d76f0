"""Accounts: sign-up, login, passwords, profiles, role grants and API tokens."""
from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import lazyload
from werkzeug.security import check_password_hash, generate_password_hash

from ..core.audit import log_action
from ..core.db import MAX_ID, write_transaction
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.timeutil import now
from ..extensions import db
from ..unions.models import UnionNode
from .models import ACTIVITY_SCOPED_ROLES, ApiToken, Occupation, Role, RoleGrant, User

log = logging.getLogger(__name__)

MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")  # ASCII digits only: \d also matches ١٢٣ and １２３
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
NAME_MAX_LENGTH = 40
DISTRICT_MAX_LENGTH = 40
MEMBER_CARD_MAX_LENGTH = 32
TOKEN_LABEL_MAX_LENGTH = 60

MSG_BAD_MOBILE = _l("Please enter an 11-digit mainland mobile number starting with 13–19.")
MSG_MOBILE_TAKEN = _l("An account with this mobile number already exists. Please log in instead.")
MSG_BAD_LOGIN = _l("The mobile number or password is not correct.")

# Checked against when the mobile is unknown, so both failures take the same time.
_DUMMY_HASH: str | None = None


def normalise_mobile(raw: str | None) -> str:
    """Strip spaces, dashes and a +86/0086 prefix from a typed mobile number."""
    value = re.sub(r"[\s\-()]", "", raw or "")
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix):]
    if value.startswith("86") and len(value) == 13:
        value = value[2:]
    return value


def mobile_error(mobile: str) -> str | None:
    return None if MOBILE_RE.fullmatch(mobile or "") else str(MSG_BAD_MOBILE)


def password_errors(password: str | None) -> list[str]:
    password = password or ""
    errors = []
    if len(password) < PASSWORD_MIN_LENGTH:
        errors.append(str(_l("The password must have at least %(n)d characters.", n=PASSWORD_MIN_LENGTH)))
    if len(password) > PASSWORD_MAX_LENGTH:
        errors.append(str(_l("The password may have at most %(n)d characters.", n=PASSWORD_MAX_LENGTH)))
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        errors.append(str(_l("The password must contain both letters and digits.")))
    return errors


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_by_mobile(mobile: str) -> User | None:
    return db.session.scalar(select(User).where(User.mobile == normalise_mobile(mobile)))


def account_field_errors(mobile: str, name: str, password: str | None,
                         member_card_no: str | None) -> dict[str, list[str]]:
    """Every problem with the fields of a new account at once (an empty dict: none)."""
    mobile = normalise_mobile(mobile)
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if mobile_error(mobile):
        errors["mobile"] = [mobile_error(mobile)]
    if not name:
        errors["name"] = [str(_l("Please enter your name."))]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [str(_l("The name may have at most %(n)d characters.", n=NAME_MAX_LENGTH))]
    if password is not None and password_errors(password):
        errors["password"] = password_errors(password)
    if member_card_no and len(member_card_no.strip()) > MEMBER_CARD_MAX_LENGTH:
        errors["member_card_no"] = [str(_l("The member card number is too long."))]
    return errors


def create_user(mobile: str, name: str, password: str | None = None, *, union: UnionNode | None = None,
                occupation: Occupation = Occupation.OTHER, district: str | None = None,
                member_card_no: str | None = None, accept_privacy: bool = False,
                created_by: User | None = None, activated: bool = True) -> User:
    """Create an account after checking every field; raises ValidationFailed/Conflict.

    Without a password the account is unactivated: its worker logs in with an SMS code (accounts.codes).
    """
    errors = account_field_errors(mobile, name, password, member_card_no)
    if errors:
        raise ValidationFailed(errors)
    mobile = normalise_mobile(mobile)
    name = (name or "").strip()
    if find_by_mobile(mobile) is not None:
        raise Conflict(MSG_MOBILE_TAKEN, field="mobile")
    user = User(
        mobile=mobile, name=name, union=union, occupation=occupation,
        district=(district or (union.district if union else None)),
        member_card_no=(member_card_no or "").strip() or None,
        password_hash=hash_password(password) if password else None,
        activated=activated and password is not None,
        created_by_id=created_by.id if created_by else None,
    )
    if accept_privacy:
        user.privacy_version = current_app.config["PRIVACY_NOTICE_VERSION"]
        user.privacy_accepted_at = now()
    db.session.add(user)
    db.session.flush()
    log_action(created_by.id if created_by else user.id, "user.create", user)
    return user


def signup_errors(*, mobile: str, name: str, password: str, union_id: int | None,
                  member_card_no: str | None = None, accept_privacy: bool) -> dict[str, list[str]]:
    """Every problem with a self sign-up at once, the code aside (the form shows them together)."""
    errors = account_field_errors(mobile, name, password or "", member_card_no)
    try:
        _chosen_union(union_id)
    except ValidationFailed as error:
        errors.update(error.errors)
    if not accept_privacy:
        errors["accept_privacy"] = [str(_l("Please read and accept the privacy notice."))]
    return errors


def needs_privacy_consent(user: User) -> bool:
    """Has this worker still to accept the privacy notice themselves?  An account made on a worker's
    behalf (walk-in, import, enrolment) carries no consent: the organiser cannot give it for them
    (PIPL), so its worker accepts the notice before anything else once they log in."""
    return user.privacy_version is None and user.created_by_id is not None


def accept_privacy_notice(user: User) -> None:
    """The worker accepts the current privacy notice (audited, with its version)."""
    version = current_app.config["PRIVACY_NOTICE_VERSION"]
    with write_transaction():
        user.privacy_version = version
        user.privacy_accepted_at = now()
        log_action(user.id, "user.accept_privacy", user, version=version)


def set_first_password(user: User, new: str) -> None:
    """A worker who logs in with codes (their union made the account) sets a password.  Nothing was
    compromised, so nothing is revoked; the password form (change_password) is for changing one."""
    if user.password_hash is not None:
        raise ValidationFailed({"new_password": [str(_l("You already have a password. Change it below."))]})
    errors = password_errors(new)
    if errors:
        raise ValidationFailed({"new_password": errors})
    new_hash = hash_password(new)
    with write_transaction():
        user.password_hash = new_hash
        user.activated = True
        log_action(user.id, "user.set_password", user)


def _chosen_union(union_id: int | None) -> UnionNode | None:
    """The union picked from the list (None: "not a union member"); any other id is an error."""
    if union_id is None:
        return None
    union = db.session.get(UnionNode, union_id) if union_id > 0 else None
    if union is None:
        raise ValidationFailed({"union_id": [str(_l("Please choose a union from the list."))]})
    return union


def authenticate(mobile: str, password: str) -> User | None:
    """The user for these credentials, or None — with the same work done for an unknown mobile."""
    global _DUMMY_HASH
    user = find_by_mobile(mobile)
    if user is None or user.password_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password("not-a-real-password-1")
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    if not user.activated:
        return None
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not user.password_hash or not check_password_hash(user.password_hash, current or ""):
        raise ValidationFailed({"current_password": [str(_l("The current password is not correct."))]})
    errors = password_errors(new)
    if errors:
        raise ValidationFailed({"new_password": errors})
    new_hash = hash_password(new)
    with write_transaction():
        user.password_hash = new_hash
        user.session_version += 1  # every other session and remember-me cookie ends
        revoked = revoke_all_tokens(user.id)  # and every API token: a stolen one must not outlive it
        log_action(user.id, "user.change_password", user, tokens_revoked=revoked)


def end_all_sessions(user: User) -> None:
    """Logout everywhere: old session cookies and remember-me tokens stop working."""
    with write_transaction():
        user.session_version += 1


def update_profile(user: User, *, name: str, union_id: int | None, occupation: Occupation,
                   district: str | None, member_card_no: str | None) -> None:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValidationFailed({"name": [str(_l("Please enter your name (at most %(n)d characters).",
                                                  n=NAME_MAX_LENGTH))]})
    union = _chosen_union(union_id)
    with write_transaction():
        user.name = name
        user.union = union
        user.occupation = occupation
        user.district = (district or "").strip() or (union.district if union else None)
        user.member_card_no = (member_card_no or "").strip() or None
        log_action(user.id, "user.update_profile", user)


def set_locale(user: User, locale: str) -> None:
    with write_transaction():
        user.locale = locale


def grant_role(user: User, role: Role, *, node: UnionNode | None = None, activity_id: int | None = None,
               granted_by: User | None = None) -> RoleGrant:
    """Give ``user`` a role over a node (admin, organiser, officer) or one activity (judge, medical)."""
    if role in ACTIVITY_SCOPED_ROLES:
        if activity_id is None:
            raise ValidationFailed({"activity_id": [str(_l("This role is granted for one activity."))]})
        node = None
    else:
        if node is None:
            raise ValidationFailed({"node_id": [str(_l("Please choose the union this role covers."))]})
        activity_id = None
    for grant in user.grants:
        if grant.role == role and grant.node_id == (node.id if node else None) \
                and grant.activity_id == activity_id:
            return grant
    grant = RoleGrant(user=user, role=role, node=node, activity_id=activity_id,
                      granted_by_id=granted_by.id if granted_by else None)
    db.session.add(grant)
    db.session.flush()
    log_action(granted_by.id if granted_by else None, "role.grant", grant, role=role.value,
               user_id=user.id, node_id=node.id if node else None, activity_id=activity_id)
    return grant


def revoke_grant(grant: RoleGrant, revoked_by: User | None = None) -> None:
    log_action(revoked_by.id if revoked_by else None, "role.revoke", grant, role=grant.role.value,
               user_id=grant.user_id)
    db.session.delete(grant)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User, label: str = "") -> str:
    """Create an API token; the raw value is returned once and only its digest stored.

    It expires after ``API_TOKEN_LIFETIME_DAYS``; being issued counts as its first use.
    """
    raw = "ue_" + secrets.token_urlsafe(32)
    user_id, at = user.id, now()
    expires_at = at + timedelta(days=current_app.config["API_TOKEN_LIFETIME_DAYS"])
    with write_transaction():
        db.session.add(ApiToken(user_id=user_id, digest=token_digest(raw), label=label[:TOKEN_LABEL_MAX_LENGTH], created_at=at,
                                expires_at=expires_at, last_used_at=at))
        log_action(user_id, "token.issue", user)
    return raw


def user_for_token(raw: str) -> User | None:
    """The active user holding this unrevoked, unexpired token, in one query (role grants load only if
    asked).  Its last use is recorded at most once per ``API_TOKEN_USE_RECORD_SECONDS``."""
    if not raw or len(raw) > 200:
        return None
    at = now()
    row = db.session.execute(_token_owner_statement(), {"digest": token_digest(raw), "now": at}).first()
    if row is None:
        return None
    user, token_id, last_used_at = row
    if not user.is_active:
        return None
    if last_used_at is None or at - last_used_at >= timedelta(
            seconds=current_app.config["API_TOKEN_USE_RECORD_SECONDS"]):
        _record_use(token_id, at)
    return user


def mobiles_by_user_id(user_ids: list[int]) -> dict[int, str]:
    """The mobile number of each of these users (the outbox's recipients); gone users are left out."""
    return dict(db.session.execute(select(User.id, User.mobile).where(User.id.in_(user_ids))).all())


@functools.cache
def _token_owner_statement():
    """Built once, the digest and the time bound per call: every API request runs it."""
    return (select(User, ApiToken.id, ApiToken.last_used_at).join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.digest == bindparam("digest"), ApiToken.revoked_at.is_(None),
                   ApiToken.expires_at > bindparam("now"))
            .options(lazyload(User.grants)))


def _record_use(token_id: int, at) -> None:
    """Stamp the token's last use in a short write of its own, at the start of the request (before the
    view's reads), keeping the loaded user: one UPDATE per token per hour at most."""
    session = db.session()
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        with write_transaction():
            session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at)
                            .execution_options(synchronize_session=False))
    except OperationalError:
        # Best effort: a busy database ("database is locked" on SQLite in a rush) must not turn the
        # request itself into a 500 for a bookkeeping stamp; the next use an hour on tries again.
        log.info("token %s: last use not recorded (database busy)", token_id, exc_info=True)
    finally:
        session.expire_on_commit = keep


def revoke_all_tokens(user_id: int) -> int:
    """Revoke every live token of the user, in the caller's write transaction; how many were live."""
    result = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now()).execution_options(synchronize_session=False))
    return result.rowcount or 0


def revoke_token(user: User, token_id: int) -> None:
    if not 0 < token_id <= MAX_ID:
        raise NotFound(_l("This token does not exist."))
    with write_transaction():
        token = db.session.get(ApiToken, token_id)
        if token is None or token.user_id != user.id:
            raise NotFound(_l("This token does not exist."))
        token.revoked_at = now()
        log_action(user.id, "token.revoke", token)


def active_tokens(user: User) -> list[ApiToken]:
    """The user's tokens that still work (not revoked, not expired), newest first."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                               ApiToken.expires_at > now())
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def admin_grant_role(actor: User, mobile: str, role: Role, node_id: int | None) -> RoleGrant:
    """An admin grants a node-scoped role from the administration page."""
    user = find_by_mobile(mobile)
    if user is None:
        raise ValidationFailed({"mobile": [str(_l("No account has this mobile number."))]})
    node = db.session.get(UnionNode, node_id) if node_id else None
    if node is None:
        raise ValidationFailed({"node_id": [str(_l("Please choose the union this role covers."))]})
    with write_transaction():
        grant = grant_role(user, role, node=node, granted_by=actor)
    return grant


def admin_revoke_grant(actor: User, grant_id: int) -> None:
    with write_transaction():
        grant = db.session.get(RoleGrant, grant_id)
        if grant is None:
            raise NotFound(_l("This role grant does not exist."))
        revoke_grant(grant, revoked_by=actor)
