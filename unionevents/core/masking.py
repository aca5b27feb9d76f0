"""Show only as much of a person's data as the viewer needs."""


def mask_mobile(mobile: str | None) -> str:
    """138****1234: enough to recognise a number, not enough to call it."""
    if not mobile:
        return ""
    if len(mobile) < 7:
        return "*" * len(mobile)
    return f"{mobile[:3]}****{mobile[-4:]}"
