"""Secret masking: the one rule used on screen, in snapshots, reports and logs.

Built from the forms real tools and drivers use: key names (`DB_PASSWORD`, `MINIO_ACCESSKEY`, `GITHUB_PAT`,
`tokens.github`), URL passwords, `key=value` / `"key": "value"` pairs (libpq, JDBC, ODBC, JSON, logs),
command-line flags (`mysql -pX`, `redis-cli -a X`, `sshpass -p X`, `docker login -p X`, `curl -u user:X`,
`--db-pass X`), HTTP headers (`Authorization`, `Cookie`, `*-Token`), SQL that sets a password, private-key
blocks and tokens with a known shape (`ghp_…`, `AKIA…`, JWTs). What is not a secret stays readable: a flag
or key whose value is a file path (`--token-file`, `*_FILE`), `-p 8080` where -p is a port, the PostgreSQL
error `password authentication failed`, a `WWW-Authenticate` realm, words like `tokenizer` or `monkey`.
Files never hold a secret; the screen may reveal one value only when the operator asks for it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import re
import tokenize
from typing import Any, Mapping

MASK = "••••••"

# ---------------------------------------------------------------- key names

# A key is split into words (`_`, `-`, `.`, camelCase); it is secret when a word holds or is one of these.
_SECRET_INFIXES = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE", "APIKEY",
                   "ACCESSKEY", "AUTHORIZATION", "COOKIE")
_SECRET_WORDS = {"PASS", "PWD", "PW", "KEY", "KEYS", "PAT", "AUTH", "CREDS", "CRED", "SALT", "DSN", "SIGNATURE",
                 "BEARER", "PASSIN", "PASSOUT"}
_NOT_SECRET_WORDS = {"TOKENIZER", "TOKENIZERS", "TOKENIZE", "TOKENIZED", "SECRETARY", "BYPASS", "COMPASS",
                     "SURPASS", "ENCOMPASS", "TRESPASS"}
# A last word that makes the key a path (`POSTGRES_PASSWORD_FILE`, `SSH_AUTH_SOCK`) or an exception (`KeyError: 'user'`).
_NOT_SECRET_LAST_WORDS = {"FILE", "FILES", "PATH", "DIR", "SOCK", "SOCKET", "ERROR", "EXCEPTION", "WARNING"}
_NOT_SECRET_KEY = re.compile(r"^(PWD|OLDPWD|AWS_(CA_BUNDLE|REGION|DEFAULT_REGION|PROFILE|DEFAULT_OUTPUT|ENDPOINT_URL))$",
                             re.IGNORECASE)
_SECRET_PREFIX = re.compile(r"^(AWS_|AZURE_(CLIENT|STORAGE|TENANT)|GCP_)", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEGMENT = re.compile(r"\.|\[[^\]]*\]")  # `api.keys[0]`: segments api, keys


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^A-Za-z0-9]+", _CAMEL.sub("_", name).upper()) if w]


def _secret_segment(segment: str) -> bool:
    if _NOT_SECRET_KEY.match(segment):
        return False
    if _SECRET_PREFIX.match(segment):
        return True
    for word in _words(segment):
        if word in _NOT_SECRET_WORDS:
            continue
        if word in _SECRET_WORDS or any(infix in word for infix in _SECRET_INFIXES):
            return True
        if word.endswith(("PASS", "PWD")) and len(word) > 4:  # DBPASS, MYSQLPWD, STOREPASS
            return True
    return False


def is_secret_key(key: str) -> bool:
    """True when an environment/config key or header names a secret.

    A dotted config key is secret when any part is (`tokens.github`, `api.keys[0]`), unless its last part
    names a file, directory or socket (`db.password_file`, `POSTGRES_PASSWORD_FILE`, `SSH_AUTH_SOCK`) or an
    exception (`KeyError`).
    """
    # the same field and variable names come back on every poll and in every row; a long (hostile) key is not kept
    return _secret_key_cached(key) if len(key) <= 256 else _secret_key(key)


@functools.lru_cache(maxsize=4096)
def _secret_key_cached(key: str) -> bool:
    return _secret_key(key)


def _secret_key(key: str) -> bool:
    segments = [s for s in _SEGMENT.split(key) if s]
    if not segments:
        return False
    last_words = _words(segments[-1])
    if last_words and last_words[-1] in _NOT_SECRET_LAST_WORDS:
        return False
    return any(_secret_segment(s) for s in segments)


# ---------------------------------------------------------------- URLs

# The password runs to the LAST "@" of the URL's whitespace-free run: passwords may hold "/", "@", ":" or "#"
# (SQLAlchemy accepts them). Masking too much (an "@" later in a query string) is safe; masking too little is not.
_URL_USER = re.compile(r"(?<![a-zA-Z0-9+.\-])[a-zA-Z][a-zA-Z0-9+.\-]{0,40}://[^:/@\s]{0,256}:")
_WHITESPACE = re.compile(r"\s")
_ORACLE_THIN = re.compile(r"(?P<k>jdbc:oracle:[a-z]+:[^/@:\s]+/)(?P<v>[^@\s]+)@", re.IGNORECASE)  # user/pw@host


def _url_password_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every URL password; linear (one scan per whitespace-free run, however many URLs it holds)."""
    spans: list[tuple[int, int]] = []
    run_end = last_at = -1
    for match in _URL_USER.finditer(text):
        start = match.end()
        if spans and match.start() < spans[-1][1]:
            continue  # inside the password just found
        if start > run_end:
            blank = _WHITESPACE.search(text, start)
            run_end = blank.start() if blank else len(text)
            last_at = text.rfind("@", start, run_end)
        if last_at >= start:
            spans.append((start, last_at))
    return spans


def mask_url(url: str) -> str:
    """Hide the password of every URL in the text; keep user, host, port and path visible."""
    out, position = [], 0
    for start, end in _url_password_spans(url):
        out += [url[position:start], MASK]
        position = end
    out.append(url[position:])
    return "".join(out)


def url_passwords(text: str) -> list[str]:
    """The password of every URL in the text, by the rule mask_url follows."""
    return [text[start:end] for start, end in _url_password_spans(text)]


def split_url_password(url: str) -> tuple[str, str | None]:
    """(the URL without its password, the password or None), by the rule mask_url follows, so a password
    holding `#`, `?` or `/` is not read as the URL's fragment, query or path."""
    spans = _url_password_spans(url)
    if not spans:
        return url, None
    start, end = spans[0]
    return url[:start - 1] + url[end:], url[start:end]


# ---------------------------------------------------------------- free text

_PEM_BLOCK = re.compile(r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)(.*?)(-----END [A-Z0-9 ]*-----|\Z)", re.S)

_SQL_LITERAL = (r"(?:\"\"\"[^\n]*?(?:\"\"\"|\Z|(?=\n))|'''[^\n]*?(?:'''|\Z|(?=\n))|"  # a Python triple-quoted value
                + r"[Ee]'(?:[^'\\]|\\.|'')*(?:'|\Z)|'(?:[^']|'')*(?:'|\Z)|\"[^\"]*(?:\"|\Z)|\$(?P<tag>\w*)\$.*?(?:\$(?P=tag)\$|\Z))")
# PostgreSQL `PASSWORD 'x'`, `E'x'`, `$$x$$`; MariaDB `PASSWORD('x')`, `SET PASSWORD = 'x'`; MySQL `IDENTIFIED BY 'x'`,
# `IDENTIFIED WITH plugin BY 'x'`, `IDENTIFIED BY PASSWORD '*hash'`. An unterminated literal (query text cut at
# track_activity_query_size) is masked to the end.
_SQL_PASSWORD = re.compile(
    r"(?P<k>(?<!['\"])\b(?:PASSWORD|IDENTIFIED\s+(?:WITH\s+\S+\s+)?(?:BY|AS)(?:\s+PASSWORD)?)(?:\s*=\s*|\s*\(\s*|\s+))"
    r"(?P<v>" + _SQL_LITERAL + ")",
    re.IGNORECASE | re.S,
)

# `Authorization: Bearer x`, `Cookie: a=b`, `X-Debug-Token: x` (curl -v output, logs, `-H "..."`).
_HEADER = re.compile(r"(?:^|(?<=[\s\"'{,(\[]))(?P<name>[A-Za-z][\w-]*)[ \t]*:[ \t]*", re.M)
_LINE_END = re.compile(r"[\r\n]")
_ALWAYS_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
_AUTH_SCHEME = re.compile(r"(?i)(?:bearer|basic|digest|token|negotiate|ntlm|bot|apikey|jwt|aws4-hmac-sha256)[ \t]+")
_COOKIE_PAIR = re.compile(r"(?P<n>[^=;\s]+)[ \t]*=[ \t]*(?P<v>[^;\r\n]*)")

# `Bearer x`, `Basic x` anywhere; a WWW-Authenticate challenge (`Basic realm="x"`) and prose (`Basic auth`) stay.
_SCHEME_CREDENTIAL = re.compile(r"(?P<k>\b(?i:bearer|basic|token)[ \t]+)(?P<v>[A-Za-z0-9\-._~+/]+=*)(?![\w\-.~+/=•])")
_AUTH_PARAMS = {"realm", "charset", "scope", "error", "error_description", "error_uri", "algorithm", "nonce", "qop",
                "opaque", "stale", "domain", "userhash", "username"}

# key=value, key: value, "key": "value", key => value; the key decides (is_secret_key).
_PAIR = re.compile(
    r"(?<![\w.\-$@/\[\]•])(?P<q>[\"']?)(?P<name>[A-Za-z_][\w.\-\[\]]{0,200})(?P=q)[ \t]*(?P<sep>=>|[=:])[ \t]*"
    r"(?P<v>\"\"\"[^\n]{0,512}?(?:\"\"\"|(?=\n)|$)|'''[^\n]{0,512}?(?:'''|(?=\n)|$)"  # a triple-quoted value
    r"|\"(?:[^\"\\\n]|\\.){0,512}\"?|'(?:[^'\\\n]|\\.){0,512}'?|\{[^}\n]{0,512}\}?"
    r"|\([^)\n]{0,512}\)?|\[[^\]\n]{0,512}\]?"  # `auth=("admin", "x")`, `password = ["x"]`
    r"|[^\s,;&}\])\"']{1,512})"
)
_VALUE_CAP = 512
_CLOSING_OF = {"{": "}", "(": ")", "[": "]"}
_BARE_RUN = re.compile(r"[^\s,;&}\])\"']*")
# A name can be secret only if it holds one of these (is_secret_key decides); a cheap test before searching a value.
_SECRET_HINT = re.compile(r"(?i)pass|pwd|pw|secret|token|cred|priv|key|auth|cookie|salt|dsn|signature|bearer|pat|"
                          r"aws_|azure_|gcp_")
_PROSE_VALUE = re.compile(r"[a-z]+")
_SQL_FUNCTION = re.compile(r"\w+\(")
_NEXT_WORD = re.compile(r"[ \t]+[A-Za-z(•]")  # a masked word is still a word

_QUERY_SECRET = re.compile(r"(?P<k>[?&;](?i:code|sig|client_secret|auth)=)(?P<v>[^&\s#\"']+)")

_KNOWN_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{20,}|xox[baprs]-[A-Za-z0-9\-]{10,}"
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,}|sk-(?:proj-)?[A-Za-z0-9_\-]{20,}"
    r"|AIza[0-9A-Za-z_\-]{35}|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_\-]{50,}|hf_[A-Za-z0-9]{30,}"
    r"|eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*)"
)
# An AWS access key id, and the 40-character secret access key written after it on the same line.
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")
_AWS_KEY_PAIR = re.compile(_AWS_KEY_ID.pattern + r"(?:(?P<sep>[^\n]{1,40}?)"
                           r"(?<![A-Za-z0-9/+])(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=]))?")
# A line that is one long base64 run of mixed case and digits: the body of a PEM block or a key file logged line
# by line (a hex digest is one case; a path starts with "/").
_BASE64_LINE = re.compile(r"^[ \t]*(?=[^\n]*[A-Z])(?=[^\n]*[a-z])(?=[^\n]*[0-9])[A-Za-z0-9+][A-Za-z0-9+/]{59,}={0,2}[ \t]*$", re.M)

# ---------------------------------------------------------------- command lines

_ARG = re.compile(r"(?:[^\s\"']+|\"[^\"\n]*\"?|'[^'\n]*'?)+")
_SEPARATORS = {"|", "||", "&&", ";", "&", "then", "do"}
# Tools whose `-p` is a password only with the value attached (`mysql -pX`; `mysql -p shop` prompts and names a
# database) and whose `--password` never takes the next word.
_ATTACHED_P = {"mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck", "mysqlshow", "mysqlpump", "mysqlslap",
               "mysqlbinlog", "mysqlsh", "mysql_upgrade", "mariadb", "mariadb-dump", "mariadb-admin", "mariadb-import",
               "mariadb-check", "mariadb-show", "mariadb-slap", "mariadb-binlog", "mariadb-upgrade", "7z", "7za", "7zz"}
_DOCKERS = {"docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras"}  # `<tool> login -p X`
_AFTER_COLON, _AFTER_PERCENT, _WHOLE = "colon", "percent", "whole"
# tool -> {flag: which part of its value is the secret}, for flags that hold one only for that tool: `-p` is a
# port for ssh, psql, redis-cli and `docker run`.
_TOOL_FLAGS: dict[str, dict[str, str]] = {
    "sshpass": {"-p": _WHOLE},
    "docker-login": {"-p": _WHOLE},
    **{tool: {"-p": _WHOLE} for tool in ("mongo", "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport",
                                          "mydumper", "myloader")},
    **{tool: {"-a": _WHOLE} for tool in ("redis-cli", "keydb-cli", "valkey-cli")},
    "curl": {"-u": _AFTER_COLON, "-U": _AFTER_COLON, "user": _AFTER_COLON, "proxy-user": _AFTER_COLON},
    "http": {"-a": _AFTER_COLON}, "https": {"-a": _AFTER_COLON},  # httpie
    "smbclient": {"-U": _AFTER_PERCENT, "user": _AFTER_PERCENT},
    **{tool: {"-P": _WHOLE} for tool in ("sqlcmd", "bcp", "zip", "unzip")},
    **{tool: {"-w": _WHOLE} for tool in ("ldapsearch", "ldapadd", "ldapmodify", "ldapdelete", "ldapwhoami",
                                          "ldappasswd", "ldapmodrdn", "ldapcompare")},
}
_OTHER_TOOLS = {"aws", "wget", "psql", "ssh", "scp", "rsync", "pg_dump", "pg_restore", "pg_dumpall"}  # end a context
_NO_VALUE_FLAGS = re.compile(r"^(no-.*|askpass|with-token|.*-(stdin|prompt|env))$")  # --password-stdin, --no-password
_SHELL_OPERATOR = re.compile(r"[0-9]*[<>|&;]+")  # `--with-token < file`: a redirection, not a value
_PATH_FLAGS = {"key", "ssl-key", "tls-key", "tlskey", "sslkey", "private-key", "client-key", "passfile", "keyfile",
               "pass-file", "tlscacert", "auth-type", "auth-method"}


_FLAG_WORD = re.compile(r"(?:^|\s)-\S")


def _secret_flag(name: str) -> bool:
    """`--db-pass`, `--password`, `--secret-access-key`, `-storepass`: a flag whose value is a secret (not a path)."""
    name = name.lower()
    if name in _PATH_FLAGS or _NO_VALUE_FLAGS.match(name):
        return False
    return is_secret_key(name)


def _value_mask(value: str, how: str) -> str:
    """The flag value with its secret part masked: all of it, or what follows `user:` / `user%`."""
    if MASK in value:
        return value  # masked already; a second pass must not change it
    if how == _WHOLE:
        return MASK
    sep = ":" if how == _AFTER_COLON else "%"
    if sep not in value:
        return value  # the tool prompts for the password
    return value.split(sep, 1)[0] + sep + MASK


def _tool_name(token: str) -> str | None:
    if "://" in token or "=" in token:
        return None
    name = token.strip("\"'").rsplit("/", 1)[-1]
    if name in _ATTACHED_P or name in _TOOL_FLAGS or name in _DOCKERS or name in _OTHER_TOOLS:
        return name
    return None


def _redact_command_lines(text: str) -> str:
    """Mask flag values: secret-named flags (`--db-pass X`, `--password=X`) for every command, and the flags that
    hold a password only for one tool (`sshpass -p`, `redis-cli -a`, `curl -u user:X`) after that tool's name.
    The context is the line: a tool name, `|`, `;`, `&&` or a new line changes it."""
    if not _FLAG_WORD.search(text) and "aws" not in text:
        return text  # every mask below follows a flag (a word starting with `-`) or `aws`: most log lines have neither
    edits: list[tuple[int, int, str]] = []
    tool: str | None = None
    pending: str | None = None  # how to mask the next word
    previous_end = 0
    for match in _ARG.finditer(text):
        token, start, end = match.group(), match.start(), match.end()
        if "\n" in text[previous_end:start]:
            tool, pending = None, None
        previous_end = end
        if pending:
            if not token.startswith("-") and not _SHELL_OPERATOR.fullmatch(token):
                edits.append((start, end, _value_mask(token, pending)))
                pending = None
                continue
            pending = None
        if token in _SEPARATORS:
            tool = None
            continue
        named = _tool_name(token)
        if named:
            tool = named
            continue
        if tool in _DOCKERS and token == "login":
            tool = "docker-login"
            continue
        flags = _TOOL_FLAGS.get(tool or "", {})
        if tool in _ATTACHED_P and token.startswith("-p") and len(token) > 2 and not token.startswith("--"):
            edits.append((start + 2, end, _value_mask(token[2:], _WHOLE)))
        elif token[:2] in flags and not token.startswith("--"):
            how = flags[token[:2]]
            if len(token) == 2:
                pending = how
            else:
                edits.append((start + 2, end, _value_mask(token[2:], how)))
        elif token.startswith("-") and len(token.lstrip("-")) >= 3:
            name, eq, value = token.lstrip("-").partition("=")
            how = flags.get(name.lower()) or (_WHOLE if _secret_flag(name) else None)
            if how and eq and value:
                edits.append((end - len(value), end, _value_mask(value, how)))
            elif how and not eq and not (tool in _ATTACHED_P and name.lower() == "password"):
                pending = how
        elif tool == "aws" and not token.startswith("-") and is_secret_key(token):
            pending = _WHOLE  # aws configure set aws_secret_access_key X
        if token.endswith(";"):
            tool = None
    out, position = [], 0
    for start, end, replacement in edits:
        out += [text[position:start], replacement]
        position = end
    out.append(text[position:])
    return "".join(out)


# ---------------------------------------------------------------- the passes


def _mask_pem(match: re.Match[str]) -> str:
    return f"{match[1]}{MASK}{match[3]}"


def _mask_sql(match: re.Match[str]) -> str:
    """The literal masked in its own quoting (`$tag$`, `E'`, `'`, `"`), so a second pass reads it the same way."""
    value = match["v"]
    if value[0] == "$":
        quote = f"${match['tag']}$"
        return f"{match['k']}{quote}{MASK}{quote}"
    if value[0] in "Ee":
        return f"{match['k']}{value[0]}'{MASK}'"
    return f"{match['k']}{value[0]}{MASK}{value[0]}"


def _secret_header(name: str) -> bool:
    return name.lower() in _ALWAYS_SECRET_HEADERS or ("-" in name and is_secret_key(name))


def _masked_header_value(name: str, value: str) -> str:
    if not value.strip() or value.strip() == MASK:
        return value
    if name in ("cookie", "set-cookie"):
        if "=" not in value:
            return MASK
        count = 0 if name == "cookie" else 1  # Set-Cookie: the value is the first pair; the rest are attributes
        return _COOKIE_PAIR.sub(lambda m: f"{m['n']}={MASK if m['v'].strip() else ''}", value, count=count)
    scheme = _AUTH_SCHEME.match(value)
    return (scheme.group() if scheme else "") + MASK


def _redact_headers(text: str) -> str:
    """Mask header values to the end of the line, or to the closing quote of `-H "Name: value"`."""
    out, position = [], 0
    for match in _HEADER.finditer(text):
        if match.start() < position or not _secret_header(match["name"]):
            continue
        start = match.end()
        line_end = (found.start() if (found := _LINE_END.search(text, start)) else len(text))
        quote = text[match.start() - 1] if match.start() and text[match.start() - 1] in "\"'" else ""
        stop = text.find(quote, start, line_end) if quote else -1
        end = stop if stop >= 0 else line_end
        out += [text[position:start], _masked_header_value(match["name"].lower(), text[start:end])]
        position = end
    out.append(text[position:])
    return "".join(out)


def _mask_scheme_credential(match: re.Match[str]) -> str:
    value = match["v"]
    if value.endswith("=") and value.rstrip("=").lower() in _AUTH_PARAMS:
        return match.group()  # WWW-Authenticate: Basic realm="x"
    if match["k"].lower().startswith("basic") and _is_basic_credential(value):
        return match["k"] + MASK
    if value.isalpha() and len(value) < 20:
        return match.group()  # "Basic auth", "Token expired": a word, not a credential
    return match["k"] + MASK


def _is_basic_credential(value: str) -> bool:
    """`user:password` in base64, as HTTP Basic sends it."""
    try:
        return ":" in base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False


def _mask_pair(match: re.Match[str]) -> str:
    name, value = match["name"], match["v"]
    if not _SECRET_HINT.search(name):
        return match.group()
    rest = match.string[match.end():match.end() + 2 * len(MASK) + 8]  # a window: the text may be huge
    if MASK in value or (_AUTH_SCHEME.match(value + " ") and rest.lstrip(" \t").startswith(MASK)) or (
            _SQL_FUNCTION.fullmatch(value) and rest.lstrip(" \t'").startswith(MASK)):
        return match.group()  # masked already: `Authorization: Bearer ••••••`, a cookie, `PASSWORD('••••••')`
    if name.upper() == "PWD":  # ODBC `PWD=x;`; the shell's `PWD=/home/x` is the working directory
        if value.lstrip("\"'{").startswith(("/", "~")):
            return match.group()
    elif not is_secret_key(name):
        return match.group()
    if match["sep"] == ":" and not match["q"] and (
            (_PROSE_VALUE.fullmatch(value) and _NEXT_WORD.match(rest)) or (value.endswith(":") and rest[:1].isspace())
            or (value in ("YES", "NO") and rest[:1] == ")")):
        return match.group()  # "password: connection to server failed", "auth: password: ...", MySQL's
        # "(using password: YES)" are prose, not pairs
    head = match.group()[: match.start("v") - match.start()]
    if value[:3] in ('"""', "'''"):
        return f"{head}{value[:3]}{MASK}{value[:3] if len(value) >= 6 and value.endswith(value[:3]) else ''}"
    if value[:1] in "\"'":
        return f"{head}{value[0]}{MASK}{value[0]}"
    if value[:1] in "{([":
        return f"{head}{value[0]}{MASK}{_CLOSING_OF[value[0]]}"
    return head + MASK


def _redact_pairs(text: str) -> str:
    """Every `_PAIR` masked. A pair that is not masked is searched again from its value when the value may
    hold one (in `a=password=x` the value of `a` holds the pair that matters). Values are matched up to
    _VALUE_CAP characters, so the search stays linear, and a masked value that reaches the cap is masked to
    its end."""
    out, position, search_from = [], 0, 0
    while (match := _PAIR.search(text, search_from)) is not None:
        replaced = _mask_pair(match)
        if replaced == match.group():
            search_from = match.start("v") if _SECRET_HINT.search(match["v"]) else match.end()
            continue
        out += [text[position:match.start()], replaced]
        position = search_from = _value_end(text, match)
    out.append(text[position:])
    return "".join(out)


def _value_end(text: str, match: re.Match[str]) -> int:
    """Where the value really ends when `_PAIR` stopped at the cap."""
    value, end = match["v"], match.end()
    closing = {'"': '"', "'": "'", **_CLOSING_OF}.get(value[0])
    if closing is None:
        return _BARE_RUN.match(text, end).end() if len(value) >= _VALUE_CAP else end
    if len(value) >= 2 and value.endswith(closing) or len(value) <= _VALUE_CAP:
        return end
    line_end = (found.start() if (found := _LINE_END.search(text, end)) else len(text))
    stop = text.find(closing, end, line_end)
    return stop + 1 if stop >= 0 else line_end


def _mask_aws_pair(match: re.Match[str]) -> str:
    return MASK + (f"{_AWS_KEY_ID.sub(MASK, match['sep'])}{MASK}" if match["secret"] else "")


# Every form redact_text masks needs a separator (`=`, `:`, space, quote, `-`) or is a token of 15+ characters
# (the shortest: a JWT `eyJxxxxx.xxxxx.`, then `sk_live_` + 10).
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_.]*")
_SHORTEST_SECRET_FORM = 15


def redact_text(text: str) -> str:
    """Mask every secret inside free text: command lines, logs, SQL, HTTP exchanges, config and Python reprs."""
    if len(text) < _SHORTEST_SECRET_FORM and _PLAIN_WORD.fullmatch(text):
        return text  # a field name, a number, a state: no form below can match it (most strings of a snapshot)
    text = _PEM_BLOCK.sub(_mask_pem, text)
    text = _SQL_PASSWORD.sub(_mask_sql, text)
    text = mask_url(text)
    text = _ORACLE_THIN.sub(lambda m: m["k"] + MASK + "@", text)
    text = _redact_headers(text)
    text = _SCHEME_CREDENTIAL.sub(_mask_scheme_credential, text)
    text = _redact_pairs(text)
    text = _QUERY_SECRET.sub(lambda m: m["k"] + MASK, text)
    text = _redact_command_lines(text)
    text = _AWS_KEY_PAIR.sub(_mask_aws_pair, text)
    text = _BASE64_LINE.sub(MASK, text)
    return _KNOWN_TOKENS.sub(MASK, text)


def redact_value(key: str, value: str) -> str:
    """The value as it may be shown or written for this key."""
    if is_secret_key(key):
        return MASK if value else ""
    return redact_text(value)


def redact_mapping(env: Mapping[str, str]) -> dict[str, str]:
    return {k: redact_value(k, v) for k, v in env.items()}


_KEY_NAME = re.compile(r"[\w.\-\[\]]+")  # a field or variable name; `password=x` as a key is data, not a name
_STRUCTURAL_FIELDS = {"key", "keys"}  # record fields that hold a key's *name* (env diff rows), never its value


def redact_deep(obj: Any) -> Any:
    """Mask secrets in every string of a JSON-like structure, dict keys included.

    The last line of defence before anything is written to a file: a value under a key named like a secret
    (a Python local `password`, `tokens: {github: ...}`, `api_keys: [...]`) is masked whole, and a dict key
    that holds a secret (a PostgreSQL application_name holding a JWT, counted in `by_application`) is redacted
    like any text.
    """
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            name = redact_text(key) if isinstance(key, str) else key
            unique, n = name, 2
            while unique in out:  # two keys masked alike keep both values
                unique, n = f"{name} ({n})", n + 1
            secret = (isinstance(key, str) and key.lower() not in _STRUCTURAL_FIELDS and _KEY_NAME.fullmatch(key)
                      and is_secret_key(key))
            out[unique] = _masked_whole(value) if secret else redact_deep(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [redact_deep(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def _masked_whole(obj: Any) -> Any:
    """Every string under a secret-named key masked. Numbers, booleans and nulls keep their type, so a record
    read back from a snapshot still fits its dataclass (a count under `by_application: {"token-svc": 3}`)."""
    if isinstance(obj, dict):
        return {(redact_text(k) if isinstance(k, str) else k): _masked_whole(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_masked_whole(v) for v in obj]
    return MASK if isinstance(obj, str) and obj else obj


# ---------------------------------------------------------------- many similar lines

# Which text a rule masks depends on the classes of its characters (a digit, a letter, a separator), never on which
# digit it is — except where a digit is part of a name (`7z`, `aws4-hmac-sha256`) and where a value is decoded
# (HTTP Basic's base64). So two lines that differ only in the values of their ASCII digits are masked alike.
_ASCII_DIGIT = re.compile(r"[0-9]")
_DIGIT_VALUE_MATTERS = re.compile(r"(?i)basic|7z|aws4")
_SHAPE_CACHED_CHARS = 512  # longer lines are redacted every time: the cache stays small (entries x this)


class LineRedactor:
    """`redact_text` for a stream of log lines, most of them one of a few shapes: a line whose shape (its ASCII
    digits as zeros) was redacted before and found clean is clean. Cuts the redaction cost of a busy log several
    times over; the output is always what `redact_text` returns."""

    def __init__(self, max_shapes: int = 4096) -> None:
        self.max_shapes = max_shapes
        # Two generations: when the young one is full it becomes the old one, so a shape seen again survives a
        # flood of one-off shapes (random ids) and the memory stays under 2 x max_shapes x 512 characters.
        self._clean: set[str] = set()
        self._older: set[str] = set()

    def __call__(self, text: str) -> str:
        if len(text) > _SHAPE_CACHED_CHARS or _DIGIT_VALUE_MATTERS.search(text):
            return redact_text(text)
        shape = _ASCII_DIGIT.sub("0", text)
        if shape in self._clean:
            return text
        if shape in self._older:
            self._remember(shape)
            return text
        redacted = redact_text(text)
        if redacted == text:
            self._remember(shape)
        return redacted

    def _remember(self, shape: str) -> None:
        if len(self._clean) >= self.max_shapes:
            self._older, self._clean = self._clean, set()
        self._clean.add(shape)


# ---------------------------------------------------------------- a line of a program's source

_ASSIGNING = {"=", ":", ":=", "==", "!=", "+="}  # `password = "x"`, `{"token": "x"}`, `if pw == "x"`
_STRING_PARTS = re.compile(r"^(?P<prefix>[A-Za-z]*)(?P<quote>\'\'\'|\"\"\"|\'|\")(?P<body>.*)(?P=quote)$", re.S)
_LAYOUT = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
_READ_AS_CODE = {tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING, tokenize.COMMENT}
_OPENING, _CLOSING = set("([{"), set(")]}")
_COMPUTED = {"(", ".", "["}  # after a name: a call, an attribute, an index (code that computes the value)
_NOT_SECRET_VALUES = {"None", "True", "False"}


def redact_code(line: str) -> str:
    """Mask the secrets of one line of a program's source, keeping its code readable. The value given to a
    secret-named target (`password = "x"`, `token="x"`, `{"api_key": "x"}`, `SECRET: str = "x"`,
    `password=os.environ.get("PGPASSWORD", "x")`, `auth=("admin", "x")`) has every string literal masked and
    every number outside a call; a value of bare words is masked whole; the calls stay, so
    `self.token = s.recv(4096)` still says it waits in recv (the pair rule of `redact_text` masks that whole
    call). Everything around those values goes through `redact_text`. Anything the tokenizer cannot read as
    one line of code is redacted as text."""
    tokens: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            tokens.append(token)
    except (tokenize.TokenError, SyntaxError):  # an open bracket at the line's end is fine; an open string is not
        pass
    code = [t for t in tokens if t.type not in _LAYOUT]
    if (not code or any(t.type not in _READ_AS_CODE for t in code) or len({t.start[0] for t in code}) > 1
            or code[-1].end[1] < len(line.rstrip())):
        return redact_text(line)
    pieces, at, index = [], 0, 0
    while index < len(code):
        end = _secret_value_end(code, index)
        if end > index:
            pieces += [redact_text(line[at:code[index].start[1]]), _masked_value(line, code[index:end])]
            at, index = code[end - 1].end[1], end
            continue
        index += 1
    pieces.append(redact_text(line[at:]))
    return "".join(pieces)


def _masked_value(line: str, value: list[tokenize.TokenInfo]) -> str:
    """A secret value's text with its string literals masked, and its numbers outside calls (a call's 4096
    is a size, `or -1234` may be a PIN); a value of bare words (`password: hunter2` in a config text inside a
    string, `token = tok`) masked whole."""
    if len(value) == 1 and value[0].string in _NOT_SECRET_VALUES:
        return value[0].string  # `token = None`: no secret, and every None of the dump masked would hide code
    if not any(t.type in (tokenize.STRING, tokenize.NUMBER) for t in value) and not any(
            a.type == tokenize.NAME and b.string in _COMPUTED for a, b in zip(value, value[1:])):
        return MASK
    pieces, at, depth = [], value[0].start[1], 0
    for previous, token in zip([None, *value], value):
        if token.string in _OPENING and previous is not None and previous.type == tokenize.NAME:
            depth += 1
        elif token.string in _CLOSING and depth:
            depth -= 1
        if token.type == tokenize.STRING or (token.type == tokenize.NUMBER and not depth):
            pieces += [line[at:token.start[1]], _masked_literal(token.string) if token.type == tokenize.STRING else MASK]
            at = token.end[1]
    pieces.append(line[at:value[-1].end[1]])
    return "".join(pieces)


def _secret_value_end(tokens: list[tokenize.TokenInfo], index: int) -> int:
    """Where the value given to a secret-named target at `index` ends (exclusive: a `,` or `;` outside its
    brackets, a bracket closing around it, a comment), or `index` if no such value starts there."""
    if not _given_to_secret(tokens, index):
        return index
    depth, end = 0, index
    while end < len(tokens):
        token = tokens[end]
        if token.type == tokenize.COMMENT or (depth == 0 and token.string in (",", ";")):
            break
        if token.string in _OPENING:
            depth += 1
        elif token.string in _CLOSING:
            if depth == 0:
                break
            depth -= 1
        end += 1
    return end


def _given_to_secret(tokens: list[tokenize.TokenInfo], index: int) -> bool:
    """A value starts at `index`, given to a secret-named target: `NAME op`, `"key" op` or `["key"] op` right
    before it (in `SECRET: str = "x"` the value is read from the annotation on: its literal is masked)."""
    if index < 2 or tokens[index - 1].string not in _ASSIGNING or tokens[index].string in _CLOSING | {",", ";"}:
        return False
    target = tokens[index - 2]
    if target.string == "]" and index >= 4 and tokens[index - 4].string == "[":
        target = tokens[index - 3]
    if target.type == tokenize.NAME:
        return is_secret_key(target.string)
    if target.type == tokenize.STRING and (parts := _STRING_PARTS.match(target.string)):
        return is_secret_key(parts["body"])
    return False


def _masked_literal(literal: str) -> str:
    parts = _STRING_PARTS.match(literal)
    return f"{parts['prefix']}{parts['quote']}{MASK}{parts['quote']}" if parts else MASK
