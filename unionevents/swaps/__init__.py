"""Book swaps: rules, stock, the donation ledger and the library."""


def init_app(app) -> None:
    """Hand the registrations domain the guard that keeps a donor's check-in (the donation rests on it)."""
    from ..registrations.undo_guards import register_undo_guard
    from .services import donation_undo_refusal

    register_undo_guard(donation_undo_refusal)
