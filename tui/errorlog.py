"""tshoot's own error log: unexpected exceptions (tshoot bugs) with their traceback, so they can be reported.

`$XDG_STATE_HOME/tshoot/tshoot.log` (default `~/.local/state/tshoot/tshoot.log`): directory 0700, file 0600,
every record redacted (a traceback message can quote a URL with its password), rotated at a small size.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import threading
from pathlib import Path

from tui.redact import redact_text

MAX_BYTES = 512 * 1024
BACKUP_COUNT = 2  # tshoot.log.1, tshoot.log.2: at most 1.5 MB in all
_lock = threading.Lock()
_loggers: dict[Path, logging.Logger] = {}


def log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "tshoot" / "tshoot.log"


def log_exception(where: str, error: BaseException) -> str:
    """Write `error` and its traceback to the log; the log's path for the message shown to the operator,
    or why it could not be written (the report then holds at least the message on screen)."""
    path = log_path()
    try:
        with _lock:
            logger = _loggers.get(path) or _open(path)
            logger.error("unexpected error in %s: %s: %s", where, type(error).__name__, error,
                         exc_info=(type(error), error, error.__traceback__))
    except OSError as exc:
        return f"(no error log: {path}: {exc.strerror or exc})"
    return str(path)


def _open(path: Path) -> logging.Logger:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # the folder may come from another user's HOME or XDG_STATE_HOME (sudo keeps them on some systems): never
    # through a link (chmod would follow it to /etc), and only a folder tshoot's own user owns
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if os.fstat(fd).st_uid != os.geteuid():
            raise PermissionError(f"{path.parent} belongs to another user")
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    handler = _PrivateRotatingFile(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8")
    handler.setFormatter(_Redacting("%(asctime)s pid %(process)d %(threadName)s %(levelname)s %(message)s"))
    logger = logging.Logger(f"tshoot.errors.{path}")  # not in logging's registry: nothing else writes here
    logger.addHandler(handler)
    _loggers[path] = logger
    return logger


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """Created 0600 and never through a symlink, the first file and every one after a rotation."""

    def _open(self):  # noqa: ANN202 - the signature logging.FileHandler defines
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)
