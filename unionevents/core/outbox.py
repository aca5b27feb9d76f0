"""The outbox: messages the services write in the same transaction as the change they announce.

The database row is the source of truth; ``flask outbox worker`` (or the one-shot ``flask outbox
send``) claims due rows and hands them to the configured sender (core/outbox_delivery.py, states
and relay contract in docs/notifications.md); the development sender writes them to the log.  Whose address a message goes to is the accounts domain's business: it hands
over the lookup with ``set_recipient_lookup`` at start-up (core imports no domain).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import cast

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text, insert, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .enums import LabelledEnum, enum_column_type
from .masking import mask_mobile
from .timeutil import now

log = logging.getLogger("unionevents.outbox")


class Channel(LabelledEnum):
    SMS = "sms"
    EMAIL = "email"

    __titles__ = {"sms": _l("SMS"), "email": _l("Email")}


class Priority(IntEnum):
    """Delivery order: a lower number is sent first (a login code never waits behind bulk)."""

    CODE = 0      # sign-in, verification and reset codes
    TIMELY = 10   # waiting-list offers, reminders: worthless when late
    NOTICE = 20   # confirmations and other transactional notices
    BULK = 30     # organisers' messages to many workers


class OutboxState(LabelledEnum):
    """queued → sending → sent, or → failed (retried after a backoff) → … → dead after
    OUTBOX_MAX_ATTEMPTS attempts, or dead at once when the relay rejects the message for good."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"

    __titles__ = {"queued": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"),
                  "failed": _l("Failed, will retry"), "dead": _l("Not delivered")}


#: The states a worker may still claim a message in (the claim index covers only these rows).
PENDING_STATES = (OutboxState.QUEUED, OutboxState.SENDING, OutboxState.FAILED)
_PENDING_VALUES = tuple(state.value for state in PENDING_STATES)


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    # The claim (core/outbox_delivery.py) walks the pending rows in (priority, id) order: a partial
    # index over those rows only, so it stays as small as the backlog (sent and dead rows leave it),
    # and it is the only index a sign-up's commit adds besides user_id's and activity_id's.
    __table_args__ = (
        Index("ix_outbox_message_due", "priority", "id",
              sqlite_where=text(f"state IN {_PENDING_VALUES!r}"),
              postgresql_where=text(f"state IN {_PENDING_VALUES!r}")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column_type(Channel), default=Channel.SMS)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    # No index on created_at or sent_at: nothing looks messages up by them but the daily purge, and
    # each index is one more page written by every sign-up's commit.
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None] = mapped_column()
    state: Mapped[OutboxState] = mapped_column(enum_column_type(OutboxState, length=10),
                                               default=OutboxState.QUEUED, server_default="queued")
    # Not before this time (a retry's backoff, quiet hours, a recipient's bulk limit); None = at once.
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    # A worker's claim on a message in state "sending" ends then: a crashed worker's messages are
    # claimed again by the others after it.
    lease_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.NOTICE,
                                          server_default=str(int(Priority.NOTICE)))
    # Where to send when there is no account to look the address up from (a code for a mobile
    # number that is signing up); otherwise None and the address comes from the user.
    address: Mapped[str | None] = mapped_column(String(120))
    # The activity the message is about, for the organiser's "what was sent" page (None for codes
    # and account messages).
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"),
                                                    index=True)


#: ``user ids -> {user id: address}`` (the mobile number): set by the accounts domain at start-up.
_recipient_lookup: Callable[[list[int]], Mapping[int, str]] | None = None


def set_recipient_lookup(lookup: Callable[[list[int]], Mapping[int, str]]) -> None:
    global _recipient_lookup
    _recipient_lookup = lookup


def recipients(user_ids: list[int]) -> Mapping[int, str]:
    if not user_ids:
        return {}
    if _recipient_lookup is None:
        raise RuntimeError("core.outbox: no recipient lookup set (create_app sets the accounts one)")
    return _recipient_lookup(user_ids)


def enqueue(user_id: int | None, kind: str, body: str, subject: str = "",
            channel: Channel = Channel.SMS, *, priority: Priority = Priority.NOTICE,
            address: str | None = None, activity_id: int | None = None) -> int:
    """Queue a message in the caller's transaction; returns its id.

    ``address`` is for a recipient without an account (a mobile number being verified); with a
    ``user_id`` the address is looked up at delivery time, so a changed number is honoured.
    ``activity_id`` names the activity the message is about (its organisers see it there).

    A Core INSERT, as for the audit rows: the services never read the message back
    (docs/performance.md, "Why the code is shaped this way").
    """
    result = db.session.execute(_OUTBOX_INSERT, {
        "user_id": user_id, "kind": kind, "body": body, "subject": subject, "channel": channel,
        "created_at": now(), "attempts": 0, "priority": int(priority), "address": address,
        "activity_id": activity_id, "state": OutboxState.QUEUED,
    })
    primary_key = cast(CursorResult, result).inserted_primary_key
    assert primary_key is not None  # an INSERT always has one
    return primary_key[0]


_OUTBOX_INSERT = insert(OutboxMessage.__table__)


class DeliveryError(Exception):
    """The message was not delivered this time; it is tried again after a backoff."""


class PermanentDeliveryError(DeliveryError):
    """The relay refused the message for good (a 4xx, no address): it goes dead at once."""


@dataclass(frozen=True)
class Outgoing:
    """A claimed message as a sender sees it (a plain row, not an ORM object: no session needed)."""

    id: int
    channel: Channel
    user_id: int | None
    kind: str
    subject: str
    body: str
    address: str | None
    priority: int
    attempts: int
    activity_id: int | None = None


class LogSender:
    """Development sender: writes each message to the log instead of sending it."""

    def __init__(self, config):
        self.config = config

    def send(self, message: Outgoing, recipient: str) -> None:
        log.info("outbox %s to %s [%s]: %s", message.channel.value, mask_mobile(recipient), message.kind,
                 message.body)


class FileSender(LogSender):
    """Development sender: appends each message as a JSON line to OUTBOX_FILE (default instance/outbox.jsonl)."""

    def send(self, message: Outgoing, recipient: str) -> None:
        path = self.config.get("OUTBOX_FILE") or os.path.join(current_app.instance_path, "outbox.jsonl")
        line = json.dumps({"id": message.id, "channel": message.channel.value, "to": recipient,
                           "kind": message.kind, "subject": message.subject, "body": message.body},
                          ensure_ascii=False)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


SIGNATURE_HEADER = "X-Unionevents-Signature"
TIMESTAMP_HEADER = "X-Unionevents-Timestamp"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` over ``<timestamp>.<body>`` (docs/notifications.md)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookSender(LogSender):
    """Production sender: POSTs each message as signed JSON to an SMS/email relay (OUTBOX_WEBHOOK_URL).

    Most Chinese SMS providers are reached through a small relay service that holds the provider
    credentials.  The contract (docs/notifications.md): 2xx = accepted; 4xx (but 408 and 429) =
    refused for good, the message goes dead at once; 5xx, 408, 429, a timeout or a refused
    connection = try again later.  Every request carries the message id, so the relay can drop a
    repeat, and an HMAC-SHA256 signature under OUTBOX_WEBHOOK_SECRET.
    """

    RETRYABLE_4XX = frozenset({408, 425, 429})

    def __init__(self, config):
        super().__init__(config)
        if not config.get("OUTBOX_WEBHOOK_URL"):
            raise RuntimeError("OUTBOX_SENDER=webhook needs OUTBOX_WEBHOOK_URL")
        if not config.get("OUTBOX_WEBHOOK_SECRET"):
            raise RuntimeError("OUTBOX_SENDER=webhook needs OUTBOX_WEBHOOK_SECRET (the requests' HMAC key)")

    def send(self, message: Outgoing, recipient: str) -> None:
        payload = json.dumps({"id": message.id, "channel": message.channel.value, "to": recipient,
                              "kind": message.kind, "subject": message.subject, "body": message.body,
                              "attempt": message.attempts}, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(self.config["OUTBOX_WEBHOOK_URL"], data=payload, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: webhook_signature(self.config["OUTBOX_WEBHOOK_SECRET"], timestamp, payload),
        })
        token = self.config.get("OUTBOX_WEBHOOK_TOKEN")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        timeout = float(self.config.get("OUTBOX_WEBHOOK_TIMEOUT", 10))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
                response.read()
        except urllib.error.HTTPError as error:
            error.close()
            if 400 <= error.code < 500 and error.code not in self.RETRYABLE_4XX:
                raise PermanentDeliveryError(f"relay refused: HTTP {error.code}") from None
            raise DeliveryError(f"relay answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:  # refused, reset, timed out, DNS
            reason = getattr(error, "reason", error)
            raise DeliveryError(f"relay unreachable: {reason}") from None


SENDERS = {"log": LogSender, "file": FileSender, "webhook": WebhookSender}


def make_sender(config):
    """The configured sender (OUTBOX_SENDER); raises RuntimeError when it is misconfigured."""
    name = config.get("OUTBOX_SENDER") or "log"
    if name not in SENDERS:
        raise RuntimeError(f"unknown OUTBOX_SENDER {name!r} (log, file or webhook)")
    return SENDERS[name](config)
