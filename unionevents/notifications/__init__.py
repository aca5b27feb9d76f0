"""Notifications as people see them: a worker's inbox (我的消息), reminders before an activity,
results and health notices; what was sent about an activity (organisers), the outbox's backlog and
failures (admins).  Delivery itself is core's (core/outbox_delivery.py)."""


def init_app(app) -> None:
    """Give every template ``unread_messages()``: the signed-in worker's unread count (asked for only
    by the pages that show it, once per request)."""
    from flask import g
    from flask_login import current_user

    def unread_messages() -> int:
        if not current_user.is_authenticated:
            return 0
        if "unread_messages" not in g:
            from sqlalchemy.exc import SQLAlchemyError

            from .inbox import unread_count

            try:
                g.unread_messages = unread_count(current_user.id)
            except SQLAlchemyError:  # the error page of a database outage still renders
                g.unread_messages = 0
        return g.unread_messages

    @app.context_processor
    def _inbox():
        return {"unread_messages": unread_messages}
