"""Structured logging: one line per event, as text or JSON, with the ``extra`` fields.

Message bodies and secrets are never passed to the logger by our code; slixmpp
logs whole stanzas at DEBUG, so its loggers stay at WARNING unless the level is debug.

Every line logged while a stanza is handled carries the service ``domain`` and the
``stanza`` id (set per request in a context variable, so plugins need not pass
them). Below debug, fields naming a person (``from``, ``jid``, ``actor``…) are
replaced by a pseudonym: stable within the process, so one person's lines still
go together, but not the address itself.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import re
import secrets
import sys
import time

#: (domain, stanza id) of the request being handled by the current task.
_request: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("switchboard_request",
                                                                                   default=None)
#: When that stanza reached the process (monotonic clock): what a reply or an offer it caused waited.
_arrived: contextvars.ContextVar[float | None] = contextvars.ContextVar("switchboard_arrived", default=None)
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._:@/+=-]")
#: Extra fields that name a person; pseudonymised unless the level is debug.
PERSONAL = frozenset({"from", "jid", "owner", "actor", "subscriber", "author", "customer", "requester", "user",
                      "agent_jid", "sender", "occupant"})


def stanza_label(stanza_id: str | None) -> str:
    """A stanza id fit for a log line: no line breaks or odd characters, at most 64 of them."""
    if not stanza_id:
        return "-"
    return _UNSAFE_ID.sub("?", stanza_id[:64])


def begin_request(domain: str, stanza_id: str | None, arrived: float | None = None) -> None:
    """The current task handles this stanza: its log lines carry the domain and the id; ``arrived``
    is when it reached the process (``time.monotonic()``)."""
    _request.set((domain, stanza_label(stanza_id)))
    _arrived.set(arrived)


def request_arrived() -> float | None:
    """When the stanza the current task handles reached the process; None outside a request."""
    return _arrived.get()


class RequestFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        current = _request.get()
        if current is not None:
            if not hasattr(record, "domain"):
                record.domain = current[0]
            if not hasattr(record, "stanza"):
                record.stanza = current[1]
        return True


class Pseudonyms(logging.Filter):
    """Replace personal fields by a keyed hash (the key is made at start and never leaves the process)."""

    def __init__(self) -> None:
        super().__init__()
        self._key = secrets.token_bytes(16)

    def pseudonym(self, value: object) -> str:
        text = str(value)
        bare = text.split("/", 1)[0]
        return "~" + hashlib.blake2s(bare.encode("utf-8"), key=self._key, digest_size=5).hexdigest()

    def filter(self, record: logging.LogRecord) -> bool:
        for name in PERSONAL & vars(record).keys():
            value = getattr(record, name)
            if value not in (None, "", True, False):
                setattr(record, name, self.pseudonym(value))
        return True

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{stamp}.{int(record.msecs):03d}Z {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": record.created, "level": record.levelname.lower(), "logger": record.name,
                "msg": record.getMessage(), **{k: str(v) for k, v in _extras(record).items()}}
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup(level: str = "info", fmt: str = "text", file: str = "") -> None:
    handler: logging.Handler = logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestFields())
    if level != "debug":
        handler.addFilter(Pseudonyms())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet = logging.DEBUG if level == "debug" else logging.WARNING
    for name in ("slixmpp", "sqlalchemy", "aiosqlite", "asyncio"):
        logging.getLogger(name).setLevel(quiet)
