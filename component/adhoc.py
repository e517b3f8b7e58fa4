"""XEP-0050 ad-hoc commands: declarative command classes and the session engine.

A command is a class with a ``node``, a title, an access check and ``start()``.
``start()`` and every form handler return a step: :class:`FormStep` (show a
form, with the handler for its submission) or :class:`Done` (a final note and/or
result form). The engine keeps sessions (with ``prev`` history and expiry),
re-shows a form with an error note when its handler raises :class:`FormError`,
and lists only the commands the requester may run.

Rights: global admins (from the configuration) may run every command. A
command may declare ``scope = "room"`` (or ``"queue"``, ...): it is then also
offered to whoever holds a non-empty scope of that kind, which plugins grant
by answering the ``admin.rights`` event (collect, :class:`RightsQuery` ->
iterable of names); ``await ctx.scope(kind)`` tells a command what the
requester may act on. ``public = True`` offers a command to everyone.
"""

from __future__ import annotations

import copy
import inspect
import secrets
import time
from dataclasses import dataclass, field
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar, Iterable
from xml.etree import ElementTree as ET

from slixmpp import JID, Iq
from slixmpp.plugins.xep_0004.stanza import Form
from slixmpp.plugins.xep_0050.stanza import Command as CommandStanza
from slixmpp.xmlstream import register_stanza_plugin

from . import namespaces as xmlns
from .errors import StanzaError
from .forms import values as form_values
from .texts import is_zh

if TYPE_CHECKING:
    from .service import Service

NS = xmlns.COMMANDS
#: Collect event: plugins grant scoped rights (rooms owned, queues supervised...).
RIGHTS = "admin.rights"
register_stanza_plugin(Iq, CommandStanza)
register_stanza_plugin(CommandStanza, Form)


def _app_error(name: str) -> ET.Element:
    return ET.Element(f"{{{NS}}}{name}")


@dataclass
class RightsQuery:
    """``admin.rights``: which names of ``kind`` may ``requester`` administer?

    Handlers answer only for kinds they own (``"room"``: rooms, ``"queue"``:
    support queues) with an iterable of names, or None.
    """

    requester: str          #: bare JID
    kind: str


@dataclass(frozen=True)
class Scope:
    """What a requester may administer of one kind: everything, or some names."""

    everything: bool = False
    names: frozenset[str] = frozenset()

    def allows(self, name: str) -> bool:
        return self.everything or name in self.names

    def filter(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.allows(n)]

    def __bool__(self) -> bool:
        return self.everything or bool(self.names)


async def rights_scope(service: "Service", requester: JID | str, kind: str) -> Scope:
    """The requester's scope of ``kind`` on ``service`` (global admins: everything)."""
    if service.is_admin(requester):
        return Scope(everything=True)
    names: set[str] = set()
    for granted in await service.hooks.collect(RIGHTS, RightsQuery(JID(requester).bare, kind)):
        names.update(str(n) for n in granted)
    return Scope(names=frozenset(names))


@dataclass
class Context:
    """Who runs the command, in which language, with per-session scratch state."""

    service: "Service"
    requester: JID
    lang: str = "en"
    state: dict[str, Any] = field(default_factory=dict)
    #: The JID the command was sent to (the domain, or a JID a plugin claims via ``commands.owns``).
    target: JID | None = None
    #: Scopes computed once per listing (None: always ask, as rights may change between stages).
    scope_cache: dict[str, "Scope"] | None = field(default=None, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.service.is_admin(self.requester)

    def zh(self) -> bool:
        return is_zh(self.lang)

    def text(self, en: str, zh: str) -> str:
        """The requester's language: Chinese when the request said zh, else English."""
        return zh if self.zh() else en

    async def scope(self, kind: str) -> Scope:
        if self.scope_cache is None:
            return await rights_scope(self.service, self.requester, kind)
        if kind not in self.scope_cache:
            self.scope_cache[kind] = await rights_scope(self.service, self.requester, kind)
        return self.scope_cache[kind]


class FormError(Exception):
    """A submitted form is invalid: show the same form again with this message."""


def add_confirmation(form: Form, label: str) -> None:
    """The tick box of a final step that deletes or destroys; its handler calls ``require_confirmation``."""
    form.add_field(var="confirm", ftype="boolean", label=label, required=True, value=False)


def require_confirmation(ctx: Context, values: dict[str, Any],
                         en: str = "Tick the box to confirm, or cancel.", zh: str = "请勾选确认，或取消。") -> None:
    """A client may submit the box unticked (required only asks for a value): refuse, nothing done."""
    if not values.get("confirm"):
        raise FormError(ctx.text(en, zh))


@dataclass
class FormStep:
    form: Form
    handler: Callable[[Context, dict[str, Any]], Awaitable["Step"]]
    #: Field types for reading the submission; taken from the form when empty.
    types: dict[str, str] = field(default_factory=dict)
    note: str = ""
    final: bool = False  # the next submission completes the command
    note_type: str = "info"
    #: The values last submitted on this form (shown again after ``prev``).
    submitted: Any = None


@dataclass
class Done:
    note: str = ""
    note_type: str = "info"
    form: Form | None = None


Step = FormStep | Done


class Command:
    node: ClassVar[str] = ""
    name: ClassVar[str] = ""
    name_zh: ClassVar[str] = ""
    #: Also offered to holders of a non-empty scope of this kind (see ``admin.rights``).
    scope: ClassVar[str] = ""
    #: Offered to everyone.
    public: ClassVar[bool] = False

    def title(self, lang: str | None = None) -> str:
        if is_zh(lang) and self.name_zh:
            return self.name_zh
        return self.name

    def allowed(self, ctx: Context) -> bool | Awaitable[bool]:
        """Global admins; plus everyone (``public``) or holders of ``scope``."""
        if self.public or ctx.is_admin:
            return True
        if self.scope:
            return self._has_scope(ctx)
        return False

    async def _has_scope(self, ctx: Context) -> bool:
        return bool(await ctx.scope(self.scope))

    async def start(self, ctx: Context) -> Step:
        raise NotImplementedError


@dataclass
class _Session:
    command: Command
    ctx: Context
    history: list[FormStep]
    expires: float


class Commands:
    #: Seconds a session lives after its last request (settable per service).
    SESSION_TTL = 600.0
    #: Ended session ids remembered, to answer ``session-expired`` rather than ``bad-sessionid``.
    ENDED_MEMORY = 1000

    def __init__(self, service: "Service") -> None:
        self.service = service
        self._commands: dict[str, Command] = {}
        self._sessions: dict[str, _Session] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        service.on_iq(f"{{{NS}}}command", self._execute, types=("set",), priority=-1000)
        service.on_iq(f"{{{NS}}}command", self._get_refused, types=("get",), priority=-1000)

    def register(self, command: Command) -> None:
        if command.node in self._commands:
            raise ValueError(f"command node {command.node} registered twice")
        self._commands[command.node] = command

    def all(self) -> list[Command]:
        return list(self._commands.values())

    async def _allowed(self, command: Command, ctx: Context) -> bool:
        result = command.allowed(ctx)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)

    async def visible_to(self, requester: JID, target: JID | None = None) -> list[Command]:
        """The commands ``requester`` may run at ``target`` (None: the domain itself)."""
        ctx = Context(self.service, requester, scope_cache={}, target=target)
        return [c for c in self._commands.values() if await self._allowed(c, ctx)]

    async def node_info(self, iq: Iq, info: Any) -> bool:
        node = info["node"]
        if node == NS:
            info.add_identity("automation", "command-list")
            return True
        command = self._commands.get(node)
        if command is None:
            return False
        if not await self._allowed(command, Context(self.service, iq["from"], target=iq["to"])):
            raise StanzaError("forbidden", "you may not run this command")
        info.add_identity("automation", "command-node", name=command.title(iq["lang"]))
        info.add_feature(NS)
        info.add_feature(xmlns.DATA)
        return True

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [sid for sid, s in self._sessions.items() if s.expires < now]:
            self._end(sid)

    def _end(self, sessionid: str) -> None:
        self._sessions.pop(sessionid, None)
        self._ended[sessionid] = None
        while len(self._ended) > self.ENDED_MEMORY:
            self._ended.popitem(last=False)

    @property
    def active_sessions(self) -> int:
        self._expire()
        return len(self._sessions)

    async def _get_refused(self, iq: Iq) -> Any:
        raise StanzaError("bad-request", "commands are executed with IQ type set")

    async def _execute(self, iq: Iq) -> Any:
        if iq["to"].full != self.service.domain and not await self.service.hooks.fire("commands.owns", iq):
            return None
        stanza = iq["command"]
        node = stanza["node"]
        action = stanza["action"] or "execute"
        sessionid = stanza["sessionid"]
        if action not in ("execute", "next", "prev", "complete", "cancel"):
            raise StanzaError("bad-request", f"unknown action {action!r}", app=_app_error("malformed-action"))
        self._expire()
        if not sessionid:
            command = self._commands.get(node)
            if command is None:
                raise StanzaError("item-not-found", f"no command {node!r} here")
            ctx = Context(self.service, iq["from"], iq["lang"] or "en", target=iq["to"])
            if not await self._allowed(command, ctx):
                raise StanzaError("forbidden", "you may not run this command")
            if action == "cancel":
                return self._reply(iq, node, secrets.token_hex(8), "canceled")
            step = await command.start(ctx)
            session = _Session(command, ctx, [], time.monotonic() + self.SESSION_TTL)
            return self._advance(iq, node, secrets.token_hex(8), session, step)
        session = self._sessions.get(sessionid)
        if session is None and sessionid in self._ended:
            raise StanzaError("not-allowed", "this command session has ended or expired; start the command again",
                              app=_app_error("session-expired"))
        if session is None:
            raise StanzaError("bad-request", "unknown session", app=_app_error("bad-sessionid"))
        if session.ctx.requester != iq["from"] or session.command.node != node:
            raise StanzaError("bad-request", "this session belongs to someone else",
                              app=_app_error("bad-sessionid"))
        session.expires = time.monotonic() + self.SESSION_TTL
        if action != "cancel" and not await self._allowed(session.command, session.ctx):
            # Rights can go while a form is open (a ticket transferred away, an owner demoted).
            self._end(sessionid)
            raise StanzaError("forbidden", "you may no longer run this command")
        if action == "cancel":
            self._end(sessionid)
            return self._reply(iq, node, sessionid, "canceled")
        if action == "prev":
            if len(session.history) < 2:
                raise StanzaError("bad-request", "there is no previous stage", app=_app_error("bad-action"))
            session.history.pop()
            previous = session.history.pop()
            if previous.submitted is not None:
                previous = FormStep(_refilled(previous.form, previous.submitted), previous.handler,
                                    previous.types, previous.note, previous.final, previous.note_type)
            return self._advance(iq, node, sessionid, session, previous)
        current = session.history[-1]
        submitted = stanza.xml.find("{jabber:x:data}x")
        if submitted is None:
            raise StanzaError("bad-request", "submit the form to continue", app=_app_error("bad-payload"))
        form = Form(xml=submitted)
        if form["type"] == "cancel":
            self._end(sessionid)
            return self._reply(iq, node, sessionid, "canceled")
        types = current.types or {var: f["type"] for var, f in current.form.get_fields().items()}
        try:
            try:
                data = form_values(form, types)
            except StanzaError as error:  # e.g. a malformed JID: say so next to the form
                raise FormError(error.text) from error
            missing = [var for var, f in current.form.get_fields().items()
                       if f["required"] and f["type"] != "fixed" and data.get(var) in (None, "", [])]
            if missing:
                raise FormError(("请填写：" if session.ctx.zh() else "Required: ") + ", ".join(missing))
            step = await current.handler(session.ctx, data)
        except FormError as error:
            session.history.pop()
            retry = FormStep(_refilled(current.form, submitted), current.handler, current.types or types,
                             str(error), current.final, "error")
            return self._advance(iq, node, sessionid, session, retry)
        current.submitted = submitted
        return self._advance(iq, node, sessionid, session, step)

    def _advance(self, iq: Iq, node: str, sessionid: str, session: _Session, step: Step) -> Iq:
        if isinstance(step, Done):
            self._end(sessionid)
            reply = self._reply(iq, node, sessionid, "completed")
            if step.note:
                reply["command"].add_note(step.note, step.note_type)
            if step.form is not None:
                reply["command"].append(step.form)
            return reply
        session.history.append(step)
        self._sessions[sessionid] = session
        reply = self._reply(iq, node, sessionid, "executing")
        actions = ["complete"] if step.final else ["next"]
        if len(session.history) > 1:
            actions.append("prev")
        reply["command"]["actions"] = actions
        reply["command"]["actions_execute"] = actions[0]
        if step.note:
            reply["command"].add_note(step.note, step.note_type)
        reply["command"].append(step.form)
        return reply

    def _reply(self, iq: Iq, node: str, sessionid: str, status: str) -> Iq:
        reply = iq.reply()
        reply["command"]["node"] = node
        reply["command"]["sessionid"] = sessionid
        reply["command"]["status"] = status
        return reply


_NOT_REFILLED = ("fixed", "hidden", "text-private")


def _refilled(form: Form, submitted: ET.Element) -> Form:
    """A copy of ``form`` showing the values of a submission (so nothing typed is lost)."""
    xml = copy.deepcopy(form.xml)
    given = {f.get("var"): [v.text or "" for v in f.findall("{jabber:x:data}value")]
             for f in submitted.findall("{jabber:x:data}field") if f.get("var")}
    for field_xml in xml.findall("{jabber:x:data}field"):
        var = field_xml.get("var")
        if var not in given or field_xml.get("type") in _NOT_REFILLED:
            continue
        for old in field_xml.findall("{jabber:x:data}value"):
            field_xml.remove(old)
        # XEP-0004 order: desc?, required?, value*, option*
        children = list(field_xml)
        at = next((i for i, c in enumerate(children) if c.tag == "{jabber:x:data}option"), len(children))
        for offset, text in enumerate(given[var]):
            value = ET.Element("{jabber:x:data}value")
            value.text = text
            field_xml.insert(at + offset, value)
    return Form(xml=xml)
