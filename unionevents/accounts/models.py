"""People, their roles with scope, and their API tokens."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.enums import LabelledEnum, enum_column_type
from ..core.masking import mask_mobile
from ..core.timeutil import now
from ..extensions import db
from ..unions.models import UnionNode


class Occupation(LabelledEnum):
    RIDER = "rider"
    COURIER = "courier"
    RIDE_HAILING_DRIVER = "ride_hailing_driver"
    TRUCK_DRIVER = "truck_driver"
    DOMESTIC_WORKER = "domestic_worker"
    OFFICE_WORKER = "office_worker"
    FACTORY_WORKER = "factory_worker"
    CONSTRUCTION_WORKER = "construction_worker"
    TEACHER = "teacher"
    MEDICAL_WORKER = "medical_worker"
    SERVICE_WORKER = "service_worker"
    CIVIL_SERVANT = "civil_servant"
    OTHER = "other"

    __titles__ = {
        "rider": _l("Delivery rider"),
        "courier": _l("Courier"),
        "ride_hailing_driver": _l("Ride-hailing driver"),
        "truck_driver": _l("Truck driver"),
        "domestic_worker": _l("Domestic worker"),
        "office_worker": _l("Office worker"),
        "factory_worker": _l("Factory worker"),
        "construction_worker": _l("Construction worker"),
        "teacher": _l("Teacher"),
        "medical_worker": _l("Medical worker"),
        "service_worker": _l("Service worker"),
        "civil_servant": _l("Civil servant"),
        "other": _l("Other"),
    }

    @property
    def is_new_employment_form(self) -> bool:
        return self in NEW_EMPLOYMENT_FORM


#: New-employment-form workers (新就业形态劳动者) that unions report on.
NEW_EMPLOYMENT_FORM = frozenset({
    Occupation.RIDER, Occupation.COURIER, Occupation.RIDE_HAILING_DRIVER,
    Occupation.TRUCK_DRIVER, Occupation.DOMESTIC_WORKER,
})


class Role(LabelledEnum):
    ADMIN = "admin"
    ORGANISER = "organiser"
    OFFICER = "officer"
    JUDGE = "judge"
    MEDICAL = "medical"

    __titles__ = {
        "admin": _l("Administrator"),
        "organiser": _l("Organiser"),
        "officer": _l("Union officer (reports)"),
        "judge": _l("Judge"),
        "medical": _l("Medical staff"),
    }

    # The two flags core.permissions asks of a role (its ``ScopeRole`` interface).
    @property
    def covers_all_nodes(self) -> bool:
        """An administrator's grant holds every node-scoped role everywhere."""
        return self is Role.ADMIN

    @property
    def activity_scoped(self) -> bool:
        """Granted on one activity (judges, medical staff); an administrator does not hold it."""
        return self in ACTIVITY_SCOPED_ROLES


#: Roles granted on one activity rather than on a union node.
ACTIVITY_SCOPED_ROLES = frozenset({Role.JUDGE, Role.MEDICAL})


class User(UserMixin, db.Model):
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("session_version >= 1", name="session_version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mobile: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    union_id: Mapped[int | None] = mapped_column(ForeignKey("union_node.id", ondelete="SET NULL"), index=True)
    member_card_no: Mapped[str | None] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(40))
    occupation: Mapped[Occupation] = mapped_column(enum_column_type(Occupation, 32), default=Occupation.OTHER)
    locale: Mapped[str | None] = mapped_column(String(10))
    # Accounts made by import, walk-in or enrolment start unactivated and without a password; the
    # worker's first login with an SMS code (accounts.codes) activates the account.
    activated: Mapped[bool] = mapped_column(default=True)
    session_version: Mapped[int] = mapped_column(default=1)
    privacy_version: Mapped[str | None] = mapped_column(String(16))
    privacy_accepted_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    # Set when the worker deleted the account: the row stays (anonymised) so registrations still count.
    erased_at: Mapped[datetime | None] = mapped_column()

    union: Mapped[UnionNode | None] = relationship(lazy="joined", foreign_keys=[union_id])
    grants: Mapped[list["RoleGrant"]] = relationship(
        back_populates="user", cascade="all, delete-orphan",
        foreign_keys="RoleGrant.user_id",
    )

    # Flask-Login: the id carries the session version, so bumping it ends
    # every session and remember-me cookie issued before.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        """Activated and not erased; an account without a password logs in with SMS codes."""
        return self.activated and self.erased_at is None

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def display_name(self) -> str:
        """The name, or "Deleted account" in the viewer's language for an erased account."""
        if self.erased_at is not None:
            return _l("Deleted account")
        return self.name

    @property
    def is_member(self) -> bool:
        return self.union_id is not None

    @property
    def masked_mobile(self) -> str:
        return mask_mobile(self.mobile)

    @property
    def is_new_employment_form(self) -> bool:
        return self.occupation in NEW_EMPLOYMENT_FORM

    def has_any_role(self, *roles: Role) -> bool:
        return any(grant.role in roles for grant in self.grants)

    @property
    def uses_door_page(self) -> bool:
        """Organisers (and admins) check people in at the door: the one page that keeps personal data on
        the phone (offline roster copies, check-ins waiting to be sent).  Their logout guards what
        waits and clears the rest; workers' pages store nothing and load no script for it."""
        from ..core.permissions import has_role  # the door page's own rule (role_required(ORGANISER))

        return has_role(self, Role.ORGANISER)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.masked_mobile}>"


class RoleGrant(db.Model):
    """A role held on a union node (and everything below it) or on one activity."""

    __tablename__ = "role_grant"
    __table_args__ = (
        CheckConstraint("(node_id IS NULL) <> (activity_id IS NULL)", name="exactly_one_scope"),
        UniqueConstraint("user_id", "role", "node_id", "activity_id", name="uq_role_grant_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column_type(Role))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("union_node.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    granted_at: Mapped[datetime] = mapped_column(default=now)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    node: Mapped[UnionNode | None] = relationship(lazy="joined")


class ApiToken(db.Model):
    """A bearer token for the JSON API. Only its SHA-256 digest is stored.

    It works until ``expires_at`` (``API_TOKEN_LIFETIME_DAYS`` after issue) unless revoked first (by its
    owner, a password change, or deleting the account).  ``last_used_at`` is kept to the hour
    (``API_TOKEN_USE_RECORD_SECONDS``), so using a token does not write on every request.
    """

    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_user_active", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class CodePurpose(LabelledEnum):
    """What a one-time SMS code is for; a code works only for the purpose it was sent for."""

    LOGIN = "login"
    SIGNUP = "signup"
    RESET = "reset"

    __titles__ = {"login": _l("Log in"), "signup": _l("Sign up"), "reset": _l("Reset password")}


class SmsCode(db.Model):
    """One SMS code sent (or, for a number without an account, recorded as sent): accounts.codes.

    Only a keyed digest of the code is stored.  The rows are also the send log the limits count
    (one send per mobile per SMS_CODE_RESEND_SECONDS, daily caps per mobile and per client address),
    so a row is written for every accepted request, whether or not the number has an account;
    ``flask privacy purge-all`` deletes rows older than a day.
    """

    __tablename__ = "sms_code"
    __table_args__ = (
        CheckConstraint("failures >= 0", name="failures_not_negative"),
        CheckConstraint("expires_at > sent_at", name="expires_after_sent"),
        Index("ix_sms_code_mobile_sent", "mobile", "sent_at"),
        Index("ix_sms_code_client_sent", "client", "sent_at"),
        Index("ix_sms_code_sent", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mobile: Mapped[str] = mapped_column(String(11))
    purpose: Mapped[CodePurpose] = mapped_column(enum_column_type(CodePurpose, 10))
    digest: Mapped[str] = mapped_column(String(64))
    # A keyed digest of the requesting client's address (the per-address daily cap), not the address.
    client: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    failures: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column()
