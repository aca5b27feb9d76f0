"""Notifications as people see them: what was sent about an activity (organisers), the outbox's
backlog and failures (admins).  Delivery itself is core's (core/outbox_delivery.py)."""
