"""Credentials never leave the component: sources and error texts are redacted before logs and status.

Cameras take credentials in two places: the URL's user-info (`rtsp://admin:secret@cam/stream`) and,
on many IP cameras, query parameters (`snapshot.cgi?user=admin&pwd=secret`). Both are removed from
anything we log or publish; error texts are scrubbed too, because OpenCV/FFmpeg and urllib may quote
the URL they failed on.
"""

import re

# scheme://user[:password]@ — the user-info is dropped entirely (a user name is a credential too).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@?#]*@")
# ?pwd=... / &password=... / &token=... (the value up to the next & or # or whitespace).
_SECRET_PARAMS = re.compile(
    r"(?P<name>[?&;](?:user(?:name)?|login|pass(?:word|wd)?|pwd|psw|token|access_token|api_?key|key|"
    r"secret|auth|authorization|signature|sig|credentials?)=)[^&#\s]*",
    re.IGNORECASE,
)
REDACTED = "***"


def redact(text: str) -> str:
    """`text` with URL credentials removed (user-info) or masked (secret query parameters)."""
    text = _USERINFO.sub(r"\g<scheme>", text)
    return _SECRET_PARAMS.sub(r"\g<name>" + REDACTED, text)
