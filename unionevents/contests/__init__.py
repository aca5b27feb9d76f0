"""Contests: entries, blind judging in rounds, the public vote, awards and their publication."""


def init_app(app) -> None:
    """Hand ``accounts.privacy`` the hook that takes an entrant out of their entries, and the
    registrations domain the follow-up of a contest sign-up."""
    from ..accounts.privacy import register_erasure_hook
    from .services.entries import erase_entrant

    register_erasure_hook(erase_entrant)

    # A contest sign-up leads on to the entry (the registrations domain asks, never imports us).
    from ..registrations.followups import register_followup
    from .services.progress import contest_followup

    register_followup(contest_followup)
