"""Contests: entries, blind judging in rounds, the public vote, awards and their publication."""


def init_app(app) -> None:
    """Hand ``accounts.privacy`` the hook that takes an entrant out of their entries."""
    from ..accounts.privacy import register_erasure_hook
    from .services.entries import erase_entrant

    register_erasure_hook(erase_entrant)
