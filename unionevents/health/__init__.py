"""Health services: assessments recorded by medical staff, their retention and erasure."""


def init_app(app) -> None:
    """Hand ``accounts.privacy`` the hook that erases a worker's health records."""
    from ..accounts.privacy import register_erasure_hook
    from .services import erase_health_records

    register_erasure_hook(erase_health_records)
