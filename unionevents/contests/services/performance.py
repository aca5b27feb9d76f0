"""A performance entry's own parts: the performers (name and mobile, within the category's limits)
and the optional audio or video recording.  ``entries`` calls these while it checks and saves an entry.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from ...accounts.services import MOBILE_RE, normalise_mobile
from .. import media, rules
from ..images import UploadRejected
from ..models import Entry, EntryMember, PerformanceCategory
from .contest import _merge


@dataclass(frozen=True)
class Performer:
    name: str
    mobile: str


def parse_performers(category: str | None, text: str, errors: dict[str, list[str]]) -> list[Performer]:
    """The performers typed one per line as "name mobile", checked; problems go into ``errors``."""
    rows = rules.split_member_lines(text)
    performers: list[Performer] = []
    seen: dict[str, int] = {}
    for line, name, typed in rows:
        mobile = normalise_mobile(typed)
        if not name:
            _merge(errors, "members", _l("Line %(line)d: please write the member's name before the mobile "
                                         "number.", line=line))
        elif len(name) > rules.MEMBER_NAME_MAX:
            _merge(errors, "members", _l("Line %(line)d: the name may have at most %(n)d characters.",
                                         line=line, n=rules.MEMBER_NAME_MAX))
        if not typed:
            _merge(errors, "members", _l("Line %(line)d: please add %(name)s's mobile number after the name.",
                                         line=line, name=name[:rules.MEMBER_NAME_MAX]))
        elif not MOBILE_RE.fullmatch(mobile):
            _merge(errors, "members", _l("Line %(line)d: “%(mobile)s” is not a valid mainland China mobile "
                                         "number (11 digits starting with 1).", line=line, mobile=typed[:20]))
        elif mobile in seen:
            _merge(errors, "members", _l("Line %(line)d: this mobile number is already on line %(other)d.",
                                         line=line, other=seen[mobile]))
        else:
            seen[mobile] = line
        performers.append(Performer(name=name[:rules.MEMBER_NAME_MAX], mobile=mobile))
    if category in rules.MEMBER_LIMITS:
        problem = rules.member_count_problem(category, len(rows))
        label = PerformanceCategory(category).title
        if problem is not None:
            code, limit = problem
            fewest, most = rules.MEMBER_LIMITS[category]
            if code == rules.NO_MEMBERS:
                _merge(errors, "members", _l("A solo lists no members: the soloist is named above. Choose "
                                             "small group or choir for several singers."))
            elif code == rules.TOO_FEW:
                _merge(errors, "members", _l("A %(category)s needs %(fewest)d to %(most)d members, each with a "
                                             "mobile number; %(n)d listed.", category=label, fewest=fewest,
                                             most=most, n=len(rows)))
            else:
                _merge(errors, "members", _l("A %(category)s may have at most %(most)d members; %(n)d listed.",
                                             category=label, most=most, n=len(rows)))
    return performers


def performers_text(entry: Entry) -> str:
    """The performers as the form shows them again: "name mobile", one per line."""
    return "\n".join(f"{p.name} {p.mobile}" for p in entry.performers)


def set_performers(entry: Entry, performers: list[Performer]) -> None:
    """Replace the entry's performers (inside the caller's write transaction)."""
    from ...extensions import db

    entry.performers.clear()
    db.session.flush()
    for position, performer in enumerate(performers):
        entry.performers.append(EntryMember(position=position, name=performer.name, mobile=performer.mobile))


def _chosen(upload) -> bool:
    return upload is not None and upload.stream is not None and bool(upload.filename or "")


def precheck_recording(upload, errors: dict[str, list[str]]) -> None:
    """Type and size from a look at the file (then rewound), so a form with several problems names
    them all at once; ``store_recording`` checks again while it writes."""
    if not _chosen(upload) or not hasattr(upload.stream, "seek"):
        return
    stream = upload.stream
    try:
        start = stream.tell()
        head = stream.read(media.HEAD_BYTES)
        size = stream.seek(0, 2) - start
        stream.seek(start)
    except (OSError, ValueError):
        return  # not seekable after all: store_recording decides
    content_type = media.sniff(head) if head else None
    if not head:
        _merge(errors, "recording", media.MSG_EMPTY)
    elif content_type is None:
        _merge(errors, "recording", media.MSG_BAD_TYPE)
    elif size > media.limit_for(content_type):
        _merge(errors, "recording", media.too_large_message(content_type))


def store_recording(upload, errors: dict[str, list[str]]) -> media.StoredMedia | None:
    """Check and store the recording if one was chosen (only when the rest of the entry is valid)."""
    if not _chosen(upload) or "recording" in errors:
        return None
    try:
        return media.store(upload.stream)
    except UploadRejected as rejected:
        _merge(errors, "recording", rejected.message)
        return None
