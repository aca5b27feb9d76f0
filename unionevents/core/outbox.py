"""The outbox: messages the services write in the same transaction as the change they announce.

A sender delivers them later (``flask outbox send``); the development sender
writes them to the log.  Whose address a message goes to is the accounts domain's business: it hands
over the lookup with ``set_recipient_lookup`` at start-up (core imports no domain).
"""
from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import IntEnum

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, SmallInteger, String, Text, insert, select
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


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column_type(Channel), default=Channel.SMS)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    # No index on created_at: nothing looks messages up by it, and each index is one more page
    # written by every sign-up's commit.
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)  # the unsent queue and the purge
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.NOTICE,
                                          server_default=str(int(Priority.NOTICE)))
    # Where to send when there is no account to look the address up from (a code for a mobile
    # number that is signing up); otherwise None and the address comes from the user.
    address: Mapped[str | None] = mapped_column(String(120))


#: ``user ids -> {user id: address}`` (the mobile number): set by the accounts domain at start-up.
_recipient_lookup: Callable[[list[int]], Mapping[int, str]] | None = None


def set_recipient_lookup(lookup: Callable[[list[int]], Mapping[int, str]]) -> None:
    global _recipient_lookup
    _recipient_lookup = lookup


def _recipients(user_ids: list[int]) -> Mapping[int, str]:
    if not user_ids:
        return {}
    if _recipient_lookup is None:
        raise RuntimeError("core.outbox: no recipient lookup set (create_app sets the accounts one)")
    return _recipient_lookup(user_ids)


def enqueue(user_id: int | None, kind: str, body: str, subject: str = "",
            channel: Channel = Channel.SMS, *, priority: Priority = Priority.NOTICE,
            address: str | None = None) -> int:
    """Queue a message in the caller's transaction; returns its id.

    ``address`` is for a recipient without an account (a mobile number being verified); with a
    ``user_id`` the address is looked up at delivery time, so a changed number is honoured.

    A Core INSERT, as for the audit rows: the services never read the message back
    (docs/performance.md, "Why the code is shaped this way").
    """
    result = db.session.execute(_OUTBOX_INSERT, {
        "user_id": user_id, "kind": kind, "body": body, "subject": subject, "channel": channel,
        "created_at": now(), "attempts": 0, "priority": int(priority), "address": address,
    })
    return result.inserted_primary_key[0]


_OUTBOX_INSERT = insert(OutboxMessage.__table__)


class LogSender:
    """Development sender: writes each message to the log instead of sending it."""

    def __init__(self, config):
        self.config = config

    def send(self, message: OutboxMessage, recipient: str) -> None:
        log.info("outbox %s to %s [%s]: %s", message.channel.value, mask_mobile(recipient), message.kind,
                 message.body)


class FileSender(LogSender):
    """Development sender: appends each message as a JSON line to OUTBOX_FILE (default instance/outbox.jsonl)."""

    def send(self, message: OutboxMessage, recipient: str) -> None:
        path = self.config.get("OUTBOX_FILE") or os.path.join(current_app.instance_path, "outbox.jsonl")
        line = json.dumps({"id": message.id, "channel": message.channel.value, "to": recipient,
                           "kind": message.kind, "subject": message.subject, "body": message.body},
                          ensure_ascii=False)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class WebhookSender(LogSender):
    """Production sender: POSTs each message as JSON to an SMS/email gateway (OUTBOX_WEBHOOK_URL).

    Most Chinese SMS providers are reached through a small relay service that
    holds the provider credentials; the relay answers 2xx when it accepted a message.
    """

    def send(self, message: OutboxMessage, recipient: str) -> None:
        url = self.config.get("OUTBOX_WEBHOOK_URL")
        if not url:
            raise RuntimeError("OUTBOX_WEBHOOK_URL is not set")
        payload = json.dumps({"id": message.id, "channel": message.channel.value, "to": recipient,
                              "kind": message.kind, "subject": message.subject,
                              "body": message.body}).encode()
        request = urllib.request.Request(url, data=payload, method="POST",
                                         headers={"Content-Type": "application/json"})
        token = self.config.get("OUTBOX_WEBHOOK_TOKEN")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - configured URL
            if not 200 <= response.status < 300:
                raise RuntimeError(f"gateway answered {response.status}")


def _address_of(message: OutboxMessage, addresses: Mapping[int, str]) -> str:
    if message.user_id is not None:
        return addresses.get(message.user_id, "")
    return message.address or ""


SENDERS = {"log": LogSender, "file": FileSender, "webhook": WebhookSender}


def deliver_pending(limit: int = 500) -> int:
    """Send unsent messages with the configured sender; returns how many were sent."""
    sender = SENDERS[current_app.config["OUTBOX_SENDER"]](current_app.config)
    messages = list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.priority, OutboxMessage.id).limit(limit)
    ))
    addresses = _recipients(sorted({m.user_id for m in messages if m.user_id is not None}))
    sent = 0
    for message in messages:
        message.attempts += 1
        try:
            sender.send(message, _address_of(message, addresses))
        except Exception as error:  # a failed delivery is retried on the next run
            message.last_error = str(error)[:200]
            continue
        message.sent_at = now()
        sent += 1
    db.session.commit()
    return sent
