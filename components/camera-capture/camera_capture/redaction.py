"""Credentials never leave the component: sources and error texts are redacted before logs and status.

Cameras take credentials in two places: the URL's user-info (`rtsp://admin:secret@cam/stream`) and,
on many IP cameras, query parameters (`snapshot.cgi?user=admin&pwd=secret`). Both are removed from
anything we log or publish; error texts are scrubbed too, because OpenCV/FFmpeg and urllib may quote
the URL they failed on.

Users type passwords unencoded (`rtsp://admin:p@ss/w#rd x@cam/s`), so the user-info is not cut at
the first `@`, `/`, `#` or space: it ends at the LAST `@` before the host (on the same line and
before the next `scheme://`), and everything from the scheme up to it goes. This errs on the side of
hiding too much (an e-mail address later on the same line is taken for the host) rather than
leaking the end of a password. Texts that are not valid URLs (`rtsp:/admin:pw@cam`, `admin:pw@cam`)
are handled by `redact_source`, and values given where text was expected (a list, an object) by
`redact_value`.
"""

import re
from typing import Any

REDACTED = "***"

# scheme:// … @host — everything between is user-info. Greedy up to the last '@' on the line that
# is followed by a host character and not preceded (in the run) by another "://".
_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?:(?!://)[^\r\n])*@(?=[^\s@/?#]|$)"
)
# ?pwd=... / &password=... / &token=... (the value up to the next & or # or whitespace).
_SECRET_NAMES = (
    r"user(?:name)?|login|pass(?:word|wd)?|pwd|psw|token|access_token|api_?key|key|"
    r"secret|auth|authorization|signature|sig|credentials?"
)
_SECRET_PARAMS = re.compile(r"(?P<name>[?&;](?:" + _SECRET_NAMES + r")=)[^&#\s]*", re.IGNORECASE)
# In a source (the whole text is the value), a secret parameter runs to the next & or # only:
# a space may be part of the password.
_SOURCE_SECRET_PARAMS = re.compile(r"(?P<name>[?&;](?:" + _SECRET_NAMES + r")=)[^&#]*", re.IGNORECASE)
# Not a valid URL but still user-info: "rtsp:/u:p@cam", "rtsp:u:p@cam", "u:p@cam/s", "//u:p@cam".
_LOOSE_USERINFO = re.compile(
    r"^(?P<scheme>(?:rtsps?|rtmps?|https?|ftp):/{0,3}|[A-Za-z][A-Za-z0-9+.-]*:/{1,3}|/{2,3})?[^\r\n]*@",
    re.IGNORECASE,
)
_SECRET_KEY = re.compile(r"^(?:" + _SECRET_NAMES + r")$", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with URL credentials removed (user-info) or masked (secret query parameters)."""
    text = _USERINFO.sub(r"\g<scheme>", text)
    return _SECRET_PARAMS.sub(r"\g<name>" + REDACTED, text)


def redact_source(source: str) -> str:
    """A `Source` value as it may be shown: like `redact`, and also for sources that are not valid
    URLs: whatever comes before the last '@' (a user-info the user meant) is dropped."""
    text = redact(source)
    if "@" in text and "://" not in text and (not text.startswith("/") or text.startswith("//")):
        text = _LOOSE_USERINFO.sub(lambda match: match.group("scheme") or "", text)
    return _SOURCE_SECRET_PARAMS.sub(r"\g<name>" + REDACTED, text)


def redact_value(value: Any) -> Any:
    """A configuration value as it may be shown in an error line: strings are redacted as sources,
    lists and objects element by element, and an object's secret-named keys (`password`, `token`, …)
    are masked whatever their value."""
    if isinstance(value, str):
        return redact_source(value)
    if isinstance(value, (list, tuple)):
        return [redact_value(element) for element in value]
    if isinstance(value, dict):
        return {key: (REDACTED if isinstance(key, str) and _SECRET_KEY.match(key.strip())
                      else redact_value(element))
                for key, element in value.items()}
    return value
