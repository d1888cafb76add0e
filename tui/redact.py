"""Secret masking: the one rule used on screen, in snapshots, reports and logs.

A value is secret when its key looks secret (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL, cloud
credential variables, ...) or when it is the password part of a URL. Files never hold a secret;
the screen may reveal one value only when the operator asks for it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

MASK = "••••••"

_SECRET_KEY = re.compile(
    r"PASS(WORD|WD|PHRASE)?|_PWD$|SECRET|TOKEN|API[_-]?KEY|(^|_)KEY($|_)|PRIVATE|CREDENTIAL|(^|_)AUTH($|_)|COOKIE|"
    r"SIGNATURE|SALT|^AWS_|^AZURE_(CLIENT|STORAGE|TENANT)|^GOOGLE_APPLICATION_CREDENTIALS$|^GCP_|DSN$",
    re.IGNORECASE,
)
# Keys that match the rule above but hold no secret: paths, layouts, regions, public identifiers.
_NOT_SECRET_KEY = re.compile(
    r"KEYBOARD|KEYMAP|KEYTAB_PATH|^XDG_SESSION_(TYPE|CLASS|DESKTOP|ID)$|^SSH_AUTH_SOCK$|"
    r"^AWS_(CA_BUNDLE|REGION|DEFAULT_REGION|PROFILE|CONFIG_FILE|SHARED_CREDENTIALS_FILE|DEFAULT_OUTPUT)$",
    re.I,
)
# The password runs to the LAST "@" of the URL: passwords may hold "/", "@" or ":" (SQLAlchemy accepts them).
# Masking too much (an "@" later in a query string) is safe; masking too little is not.
_URL_WITH_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^\s]*)@")
_SECRET_WORD = r"(?:password|passwd|_pwd|secret|token|api[_-]?key|credential)"
# key=value, key: value, "key": "value", --password=value, --password value
_INLINE_SECRET = re.compile(
    r"(?P<k>[\"']?\b[\w.-]*" + _SECRET_WORD + r"[\w.-]*[\"']?\s*[=:]\s*|--[\w-]*" + _SECRET_WORD + r"[\w-]*\s+)"
    r"(?P<v>\"[^\"]*\"|'[^']*'|[^\s&,;}\]]+)",
    re.IGNORECASE,
)
# SQL that sets a password: CREATE ROLE ... PASSWORD '...', ALTER USER ... IDENTIFIED BY '...'
_SQL_PASSWORD = re.compile(r"(?P<k>\b(?:PASSWORD|IDENTIFIED\s+(?:BY|WITH\s+\w+\s+(?:BY|AS)))\s+)(?P<v>'[^']*'|\"[^\"]*\")", re.I)
# Secrets in query strings (OAuth codes, access tokens, signed URLs)
_QUERY_SECRET = re.compile(
    r"(?P<k>[?&](?:access_token|id_token|refresh_token|token|api_?key|apikey|key|secret|password|code|sig|signature)=)"
    r"(?P<v>[^&\s#\"']+)",
    re.IGNORECASE,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?P<k>\b(?:Bearer|Basic)\s+)(?P<v>[A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """True when an environment/config key names a secret."""
    last = key.rsplit(".", 1)[-1]
    return bool(_SECRET_KEY.search(last)) and not _NOT_SECRET_KEY.search(last)


def mask_url(url: str) -> str:
    """Hide the password of every URL in the text; keep user, host, port and path visible."""
    return _URL_WITH_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def redact_text(text: str) -> str:
    """Mask secrets inside free text (command lines, logs, SQL, HTTP responses, Python reprs).

    URL passwords, `password=...`/`"token": "..."`/`--password ...` pairs, SQL `PASSWORD '...'`, secret
    query parameters, bearer/basic credentials and JWTs.
    """
    text = mask_url(text)
    for pattern in (_INLINE_SECRET, _SQL_PASSWORD, _QUERY_SECRET, _BEARER):
        text = pattern.sub(lambda m: m["k"] + MASK, text)
    return _JWT.sub(MASK, text)


def redact_value(key: str, value: str) -> str:
    """The value as it may be shown or written for this key."""
    if is_secret_key(key):
        return MASK if value else ""
    return redact_text(value)


def redact_mapping(env: Mapping[str, str]) -> dict[str, str]:
    return {k: redact_value(k, v) for k, v in env.items()}


def redact_deep(obj: Any) -> Any:
    """Mask URL passwords, inline `password=` pairs and bearer tokens in every string of a JSON-like structure.

    The last line of defence before anything is written to a file: a string field whose own name looks
    secret (a Python local `password`, a container env entry a collector missed) is masked whole too.
    """
    if isinstance(obj, dict):
        return {k: _masked_field(str(k), v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_deep(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


_STRUCTURAL_FIELDS = {"key", "keys"}  # record fields that hold a key's *name* (env diff rows), never its value


def _masked_field(name: str, value: Any) -> Any:
    if isinstance(value, str) and value and name.lower() not in _STRUCTURAL_FIELDS and is_secret_key(name):
        return MASK
    return redact_deep(value)
