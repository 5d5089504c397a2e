"""URLs safe to print: every URL the library prints, logs or records in a report goes through
`redact_url`, so a tracking URI or endpoint given with `user:password@` or a `?token=` never ends up
in a terminal, a job log or a file under git."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"
# query and fragment keys whose values are credentials: tokens, API keys, passwords, signed URLs
# (AWS X-Amz-Signature / X-Amz-Credential, Azure SAS sig), sessions; a harmless key that merely
# contains one of these is hidden too, which costs nothing
_SECRET_KEY = re.compile(r"token|key|pass|pwd|secret|sig|credential|auth|session|cookie", re.IGNORECASE)


def redact_url(url: str) -> str:
    """`url` with its userinfo (`user:password@`) and the values of secret-looking query or fragment
    parameters replaced by `***`; anything else is kept as written."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: nothing of it can be shown safely
        return f"{HIDDEN} (a URL that does not parse)"
    netloc = parts.netloc
    if "@" in netloc:  # the user name alone can be a token (https://<token>@host)
        netloc = f"{HIDDEN}@{netloc.rpartition('@')[2]}"
    query, fragment = _redact_pairs(parts.query), _redact_pairs(parts.fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url  # urlunsplit would rewrite some (sqlite:///x becomes sqlite:/x)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _redact_pairs(text: str) -> str:
    """`a=1&token=x` -> `a=1&token=***`, each pair kept byte for byte unless its key is secret."""
    pairs = []
    for pair in text.split("&"):
        key, equals, _ = pair.partition("=")
        pairs.append(f"{key}={HIDDEN}" if equals and _SECRET_KEY.search(key) else pair)
    return "&".join(pairs)
