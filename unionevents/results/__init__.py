"""Results of classes and meetings: a worker's feedback on a class, attendance by unit."""


def init_app(app) -> None:
    """Hand ``accounts.privacy`` the hook that erases a worker's feedback comments."""
    from ..accounts.privacy import register_erasure_hook
    from .services import erase_feedback_comments

    register_erasure_hook(erase_feedback_comments)
