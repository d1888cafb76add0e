"""The diff of two sides: every key `same`, `changed`, `only-left` or `only-right`, masked, most important first.

Secrets are compared by equality and never shown. When one side comes from a snapshot its secrets were
masked when it was taken (a snapshot never carries a secret, not even a hash that could be brute-forced),
so a secret present on both sides there is reported `hidden`: present on both, equality unknown. `hidden`
is not counted as a difference.

URL values are compared by component — scheme, user, host, port (the scheme's default made explicit),
database, query — so "prod's DATABASE_URL points at another host" reads as one line; the password is
compared by equality only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from tui.env.side import CONFIG, DATABASE, ENV, PACKAGES, RUNTIME, SECRET_DOMAINS, Side, SideError
from tui.redact import MASK, is_secret_key, redact_text, split_url_password

SAME, CHANGED, ONLY_LEFT, ONLY_RIGHT, HIDDEN = "same", "changed", "only-left", "only-right", "hidden"
DIFFERENT = (CHANGED, ONLY_LEFT, ONLY_RIGHT)
_STATUS_ORDER = {CHANGED: 0, ONLY_LEFT: 1, ONLY_RIGHT: 2, HIDDEN: 3, SAME: 4}
_DOMAIN_ORDER = (ENV, CONFIG, DATABASE, RUNTIME, PACKAGES)
_KEY_PREFIX = {PACKAGES: "package."}  # package names alone would read like env keys in a mixed table
# Variables that differ between any two shells or hosts and say nothing about the application: listed last,
# and never a reason for an `env-drift` finding.
SESSION_KEY = re.compile(
    r"^(PWD|OLDPWD|SHLVL|_|TERM|TERM_.*|COLORTERM|COLUMNS|LINES|SSH_CLIENT|SSH_CONNECTION|SSH_TTY|TMUX|TMUX_PANE|"
    r"STY|WINDOW|DISPLAY|XDG_SESSION_.*|XDG_RUNTIME_DIR|LS_COLORS|MAIL|HOSTNAME|INVOCATION_ID|JOURNAL_STREAM|"
    r"PS1|SUDO_.*|LESSOPEN|LESSCLOSE|MOTD_SHOWN|VSCODE_.*|PYTEST_.*|PYTHONHASHSEED|COV_.*)$"
)
DEFAULT_PORTS = {"postgres": 5432, "postgresql": 5432, "mysql": 3306, "mariadb": 3306, "redis": 6379,
                 "rediss": 6379, "mongodb": 27017, "amqp": 5672, "amqps": 5671, "http": 80, "https": 443,
                 "ws": 80, "wss": 443, "ftp": 21, "ssh": 22, "ldap": 389, "ldaps": 636, "nats": 4222,
                 "kafka": 9092, "smtp": 25, "memcached": 11211, "mssql": 1433, "oracle": 1521, "clickhouse": 9000}


@dataclass
class DiffRow:
    key: str
    status: str  # same, changed, only-left, only-right, hidden
    left: str | None  # masked value; None when the key is absent on that side
    right: str | None
    domain: str = ENV
    secret: bool = False
    detail: str = ""  # what differs inside a value: URL components, a package range not satisfied

    @property
    def is_session_key(self) -> bool:
        return self.domain == ENV and bool(SESSION_KEY.match(self.key))


@dataclass
class EnvDiff:
    left: str  # labels of the two sides, secrets masked
    right: str
    rows: list[DiffRow] = field(default_factory=list)
    left_problems: list[str] = field(default_factory=list)
    right_problems: list[str] = field(default_factory=list)
    left_kind: str = ""  # Side.kind of each side: an env file declares a subset of a whole environment
    right_kind: str = ""
    chosen_by: str = "config"  # "config": the configured baseline; "operator": the two sides typed in the Env pane

    @property
    def differs(self) -> bool:
        return any(row.status in DIFFERENT for row in self.rows)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(_STATUS_ORDER, 0)
        for row in self.rows:
            counts[row.status] += 1
        return counts


def diff_sides(left: Side, right: Side) -> EnvDiff:
    """Compare the domains both sides hold; SideError when they hold nothing in common."""
    shared = [domain for domain in _DOMAIN_ORDER if domain in left.domains and domain in right.domains]
    if not shared:
        raise SideError(
            f"cannot compare {left.label} ({_holds(left)}) with {right.label} ({_holds(right)}): no kind of key in common"
        )
    both_live = left.live and right.live
    rows = []
    for domain in shared:
        lefts, rights = left.domains[domain], right.domains[domain]
        for key in lefts.keys() | rights.keys():
            rows.append(compare_key(domain, key, lefts.get(key), rights.get(key), both_live))
    rows.sort(key=_importance)
    return EnvDiff(left.label, right.label, rows, list(left.problems), list(right.problems), left.kind, right.kind)


def _holds(side: Side) -> str:
    return ", ".join(side.domains) or "nothing"


def _importance(row: DiffRow) -> tuple:
    return (_STATUS_ORDER[row.status], row.is_session_key, _DOMAIN_ORDER.index(row.domain), row.key)


def compare_key(domain: str, key: str, left: str | None, right: str | None, both_live: bool) -> DiffRow:
    """One key. `both_live`: both values are real (not masked at their source), so secrets compare exactly."""
    secret = domain in SECRET_DOMAINS and is_secret_key(key)
    row = DiffRow(_KEY_PREFIX.get(domain, "") + key, SAME, _shown(left, secret), _shown(right, secret), domain, secret)
    if left is None or right is None:
        row.status = ONLY_RIGHT if left is None else ONLY_LEFT
    elif secret:
        row.status = _secret_status(left, right, both_live)
    elif domain == PACKAGES:
        row.status, row.detail = _package_status(left, right)
    elif (left_url := url_components(left)) and (right_url := url_components(right)):
        row.status, row.detail = _url_status(left_url, right_url, both_live)
    elif both_live:
        row.status = SAME if left == right else CHANGED
        if row.status == CHANGED and row.left == row.right:
            row.detail = "differs in a masked part"
    else:
        row.status = SAME if row.left == row.right else CHANGED
    return row


def _shown(value: str | None, secret: bool) -> str | None:
    if value is None:
        return None
    if secret:
        return MASK if value else ""
    return redact_text(value)


def _secret_status(left: str, right: str, both_live: bool) -> str:
    if both_live:
        return SAME if left == right else CHANGED
    if not left or not right:  # an empty secret is visible as such even after masking
        return SAME if left == right else CHANGED
    return HIDDEN


def url_components(value: str) -> dict[str, str] | None:
    """scheme/user/password/host/port/database/query of a `scheme://host...` value; None for anything else."""
    if "://" not in value or any(c.isspace() for c in value.strip()):
        return None
    # the password is taken out first, by mask_url's rule: one holding `#`, `?` or `/` would split the URL wrongly
    without_password, password = split_url_password(value.strip())
    try:
        parts = urlsplit(without_password)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    base_scheme = parts.scheme.lower().split("+", 1)[0]
    default = DEFAULT_PORTS.get(base_scheme)
    if port is not None:
        shown_port = str(port)
    else:
        shown_port = f"{default} (default)" if default else "(none)"
    return {
        "scheme": parts.scheme.lower(),
        "user": parts.username or "",
        "password": password or "",
        "host": parts.hostname.lower(),
        "port": shown_port,
        "database": parts.path.lstrip("/"),
        "query": "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True))),
    }


def _effective_port(shown: str) -> str:
    return shown.split(" ", 1)[0]


def _url_status(left: dict[str, str], right: dict[str, str], both_live: bool) -> tuple[str, str]:
    """Changed components make the key `changed`; notes (same port written differently, a password that
    could not be compared) are shown but do not."""
    changes, notes = [], []
    for component in ("scheme", "user", "host", "port", "database", "query"):
        a, b = left[component], right[component]
        if component == "port" and _effective_port(a) == _effective_port(b):
            if a != b:
                notes.append(f"port: {a} = {b}")
        elif a != b:
            changes.append(f"{component}: {a or '(none)'} → {b or '(none)'}")
    if bool(left["password"]) != bool(right["password"]):
        changes.append("password on one side only")
    elif both_live and left["password"] != right["password"]:
        changes.append("password differs")
    elif not both_live and left["password"]:
        notes.append("password not compared (masked in the snapshot)")
    return (CHANGED if changes else SAME), "; ".join(changes + notes)


def _package_status(left: str, right: str) -> tuple[str, str]:
    """Installed version vs pin or range: a range that the version satisfies is `same`."""
    if left == right:
        return SAME, ""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # only for packages that differ
    from packaging.version import InvalidVersion, Version

    for version, requirement in ((left, right), (right, left)):
        if requirement[:1] in "<>=!~":
            try:
                satisfied = SpecifierSet(requirement).contains(Version(version), prereleases=True)
            except (InvalidSpecifier, InvalidVersion):
                break
            return (SAME, f"{version} satisfies {requirement}") if satisfied else (CHANGED, f"{version} does not satisfy {requirement}")
    try:
        return (SAME, "") if Version(left) == Version(right) else (CHANGED, "")
    except InvalidVersion:
        return CHANGED, ""
