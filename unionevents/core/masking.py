"""Show only as much of a person's data as the viewer needs."""


def mask_mobile(mobile: str | None) -> str:
    """138****1234: enough to recognise a number, not enough to call it."""
    if not mobile:
        return ""
    if len(mobile) < 7:
        return "*" * len(mobile)
    return f"{mobile[:3]}****{mobile[-4:]}"


def mask_name(name: str | None) -> str:
    """张*花, 张*, A***e: the first and last characters of a name, enough for its owner to recognise."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * min(len(name) - 2, 3) + name[-1]
