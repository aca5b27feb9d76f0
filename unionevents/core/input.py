"""The request boundary: input that is not text, and JSON nested too deeply, is refused before any view.

One ``before_request`` hook, run before CSRF and every other hook that reads the body:

- the query string and a form-encoded body must decode as UTF-8 (werkzeug would otherwise keep
  ``%ED%A0%80`` as literal text, or fail with a 500 on raw bytes);
- a multipart body's fields must not hold U+FFFD (werkzeug's mark for bytes that were not UTF-8);
- a JSON body must be UTF-8, nested at most ``MAX_JSON_DEPTH`` deep (Python's parser recurses:
  100,000 levels raise ``RecursionError``), and every string in it, keys too, valid text (JSON's
  ``"\\ud800"`` parses to a lone surrogate that nothing downstream can encode).

Text: 422 with a message per field; too deep: 400.  JSON for the API and for JSON bodies (the
API's error format), the error page otherwise.

Then NUL characters (never meaningful, and PostgreSQL refuses them in text): dropped from HTML form
fields, so each field's own validation answers; refused (422) in a query string or JSON body.

Cleaning free text (NFC, zero-width characters, direction controls) is the fields' job:
``core.forms.BaseForm`` and ``core.api_fields.String``.
"""
from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import ImmutableMultiDict

from .text import NOT_TEXT, first_non_text

#: No request body of ours nests deeper than a few levels; 32 leaves room and stays far from recursion.
MAX_JSON_DEPTH = 32

NOT_TEXT_REQUEST = _l("The request contains characters that are not valid text (UTF-8). "
                      "Please check what you entered and try again.")
JSON_TOO_DEEP = _l("The request's JSON is nested too deeply.")
NUL_CHARACTER = _l("The request contains a character that is not allowed.")

# A JSON string (an unterminated one runs to the end, so a match never fails: linear time) or a bracket.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.?[^"\\]*)*"?|[\[\]{}]', re.S)


def install_input_guard(app: Flask) -> None:
    app.before_request(guard_request_input)


def guard_request_input():
    if request.endpoint == "static":
        return None
    refused = _refuse_what_is_not_text()
    if refused is not None:
        return refused
    _refuse_nul_characters()
    return None


def _refuse_what_is_not_text():
    field = undecodable_field(request.query_string)
    if field is not None:
        return _refuse_not_text({field: [str(NOT_TEXT)]})
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded":
        field = undecodable_field(request.get_data(cache=True))
        if field is not None:
            return _refuse_not_text({field: [str(NOT_TEXT)]})
    elif mimetype == "multipart/form-data":
        for key, value in request.form.items(multi=True):
            if "\ufffd" in key or "\ufffd" in value:
                return _refuse_not_text({key: [str(NOT_TEXT)]})
    elif request.is_json:
        return _guard_json(request.get_data(cache=True))
    return None


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul_characters() -> None:
    if request.method != "GET" and request.mimetype in ("application/x-www-form-urlencoded",
                                                        "multipart/form-data"):
        # HTML forms: drop the NULs, so each field's own validation answers (e.g. "name required").
        pairs = list(request.form.items(multi=True))
        if any(_has_nul(k) or _has_nul(v) for k, v in pairs):
            request.form = ImmutableMultiDict([(k.replace("\x00", ""), v.replace("\x00", ""))
                                               for k, v in pairs])
    values: list[object] = list(request.args.values())
    if request.method != "GET" and request.is_json:
        values.append(request.get_json(silent=True))  # nested at most MAX_JSON_DEPTH: checked above
    if any(_has_nul(v) for v in values):
        from .errors import ValidationFailed

        raise ValidationFailed(message=NUL_CHARACTER)


def undecodable_field(raw: bytes) -> str | None:
    """The name of the first ``name=value`` pair of a query string or form body that is not UTF-8
    once percent-decoded; None when every pair is."""
    if not raw:
        return None
    for pair in raw.split(b"&"):
        name, _sep, value = pair.partition(b"=")
        try:
            unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8")
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace") or "_schema"
    return None


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays and objects in ``text`` nest deeper than ``limit`` (brackets inside strings
    do not count).  Linear in the length, no recursion, and no scan at all for a body with fewer
    brackets than the limit."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _guard_json(data: bytes):
    if not data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _refuse_not_text({"_schema": [str(NOT_TEXT)]})
    if json_too_deep(text):
        return _refuse(400, JSON_TOO_DEEP, code="json_too_deep")
    try:
        parsed = json.loads(text)
    except RecursionError:  # pragma: no cover - json_too_deep stops far before this
        return _refuse(400, JSON_TOO_DEEP, code="json_too_deep")
    except ValueError:
        return None  # not JSON: the view's own parser answers (400 or 422) as it always has
    path = first_non_text(parsed)
    if path is None:
        return None
    return _refuse_not_text(_nested(path, [str(NOT_TEXT)]))


def _nested(path: tuple, messages: list) -> dict:
    if not path:
        return {"_schema": messages}
    errors: dict = {str(path[-1]): messages}
    for key in reversed(path[:-1]):
        errors = {str(key): errors}
    return errors


def _refuse_not_text(errors: dict):
    return _refuse(422, NOT_TEXT_REQUEST, code="validation_failed", errors=errors)


def _refuse(status: int, message, *, code: str, errors: dict | None = None):
    from .errors import json_error, wants_json

    if wants_json() or request.is_json:
        extra: dict[str, object] = {"code": code}
        if errors is not None:
            extra["errors"] = errors
        return json_error(status, message, **extra)
    return render_template("errors/error.html", status=status, message=message), status


def bounded_int(value) -> int:
    """``type=`` for ``request.args.get`` / ``request.form.get``: an ASCII integer within the
    database's integer range, else ``ValueError`` (so werkzeug answers the default, and ``getlist``
    skips it).  Plain ``type=int`` lets ``?page=99999999999999999999`` reach the driver: a 500."""
    from .db import MAX_ID

    text = str(value).strip()
    if not text.isascii():
        raise ValueError(value)
    number = int(text)
    if not -MAX_ID <= number <= MAX_ID:
        raise ValueError(value)
    return number
