"""Officer reports: summary tables kept current by the services, dashboards, charts and exports."""


def init_app(app) -> None:
    """Subscribe the summary counters to the registration engine's transitions (``core.events``).

    Called by the app factory: the engine announces every change inside its transaction and
    ``record_transition`` counts it there, so the engine never imports ``reports``.
    """
    from ..core.events import on
    from ..registrations.events import TRANSITION
    from .services import record_transition

    on(TRANSITION, record_transition)
