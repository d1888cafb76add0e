"""Secret masking: the one rule used on screen, in snapshots, reports and logs.

A value is secret when its key looks secret (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL, cloud
credential variables, ...) or when it is the password part of a URL. Files never hold a secret;
the screen may reveal one value only when the operator asks for it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

MASK = "••••••"

_SECRET_KEY = re.compile(
    r"PASS(WORD|WD|PHRASE)?|SECRET|TOKEN|API_?KEY|(^|_)KEY($|_)|PRIVATE|CREDENTIAL|(^|_)AUTH($|_)|COOKIE|"
    r"SIGNATURE|SALT|^AWS_|^AZURE_(CLIENT|STORAGE|TENANT)|^GOOGLE_APPLICATION_CREDENTIALS$|^GCP_|DSN$",
    re.IGNORECASE,
)
# Keys that contain a secret-looking word but are not secrets (KEYBOARD, KEYMAP, ...).
# Keys that match the rule above but hold no secret: paths, layouts, regions, public identifiers.
_NOT_SECRET_KEY = re.compile(
    r"KEYBOARD|KEYMAP|KEYTAB_PATH|^XDG_SESSION_(TYPE|CLASS|DESKTOP|ID)$|^SSH_AUTH_SOCK$|"
    r"^AWS_(CA_BUNDLE|REGION|DEFAULT_REGION|PROFILE|CONFIG_FILE|SHARED_CREDENTIALS_FILE|DEFAULT_OUTPUT)$",
    re.I,
)
_URL_WITH_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s/]*)@")
_INLINE_SECRET = re.compile(
    r"(?P<k>\b[\w.-]*(?:password|passwd|secret|token|api_?key)[\w.-]*\s*[=:]\s*)(?P<v>\"[^\"]*\"|'[^']*'|[^\s&,;]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<k>\b(?:Bearer|Basic)\s+)(?P<v>[A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """True when an environment/config key names a secret."""
    last = key.rsplit(".", 1)[-1]
    return bool(_SECRET_KEY.search(last)) and not _NOT_SECRET_KEY.search(last)


def mask_url(url: str) -> str:
    """Hide the password of every URL in the text; keep user, host, port and path visible."""
    return _URL_WITH_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def redact_text(text: str) -> str:
    """Mask URL passwords, `password=...`-style pairs and bearer tokens inside free text (command lines, logs, SQL)."""
    text = mask_url(text)
    text = _INLINE_SECRET.sub(lambda m: m["k"] + MASK, text)
    return _BEARER.sub(lambda m: m["k"] + MASK, text)


def redact_value(key: str, value: str) -> str:
    """The value as it may be shown or written for this key."""
    if is_secret_key(key):
        return MASK if value else ""
    return redact_text(value)


def redact_mapping(env: Mapping[str, str]) -> dict[str, str]:
    return {k: redact_value(k, v) for k, v in env.items()}


def redact_url_parts(url: str) -> str:
    """A URL with its password masked even when it has no scheme separator quirks (uses urlsplit)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}:{MASK}@{netloc[-1]}"))


def redact_deep(obj: Any) -> Any:
    """Mask URL passwords, inline `password=` pairs and bearer tokens in every string of a JSON-like structure.

    The last line of defence before anything is written to a file; key-based masking of environment
    values happens where they are collected (`redact_mapping`).
    """
    if isinstance(obj, dict):
        return {k: redact_deep(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_deep(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj
