"""Registrations: the sign-up engine (one state changer), the door, the roster and enrolment."""


def init_app(app) -> None:
    """Hand ``accounts.privacy`` the registrations' erasure hooks (``services.erasure``)."""
    from ..accounts.privacy import register_erasure_hook, register_pre_erasure_hook
    from .services import erasure

    register_pre_erasure_hook(erasure.cancel_live_registrations)
    register_erasure_hook(erasure.anonymise_registrations)
    register_erasure_hook(erasure.erase_checkin_override_reasons)

    from .ticket_codes import display

    app.jinja_env.filters["ticket_code"] = display
