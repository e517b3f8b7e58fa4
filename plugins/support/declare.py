"""Support commands, declared once and served on every surface.

A :class:`Declaration` says what a command is: its name, its chat words in English and Chinese,
where it runs (a conversation ``t-<ticket>@…`` or a queue address), who may run it, its form
fields and its handler. From that one declaration:

- the chat surface runs ``/word <argument>`` typed in a conversation window or to a queue address
  (the argument fills the first text field; an :class:`Alias` may preset other fields);
- the XEP-0050 surface offers a command node with a data form built from the fields;
- our namespace's conversation IQs (``<close/>``, ``<transfer/>``, ``<note/>``) and XEP-0142's
  offer answers run the declaration named by :attr:`Declaration.element`.

The handler gets a :class:`Call` (who, where, in which language, the field values) and returns the
text to show (already in the caller's language) or nothing; a refusal is a ``StanzaError``, which
each surface turns into its own form (an error stanza, a form note, a "⚠" line in the chat).

Adding a command is one declaration in ``commands.py`` plus its tests. The registry
(:data:`plugins.support.commands.REGISTRY`) is the public entry point for other surfaces (a command
line, a web console): look a command up, check :meth:`Registry.role_of`, then :meth:`Registry.run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from component.errors import StanzaError
from component.texts import is_zh

if TYPE_CHECKING:
    from .model import Ticket
    from .plugin import SupportPlugin

#: Where a command runs.
SESSION = "session"     #: at a conversation JID: the call carries the ticket
QUEUE = "queue"         #: at a queue JID: the call carries the queue name


@dataclass(frozen=True)
class Field:
    """One form field (XEP-0004 types); ``options`` lists (label, value) pairs for a list field."""

    var: str
    label: tuple[str, str]                      #: English, Chinese
    type: str = "text-single"
    required: bool = False
    default: str = ""
    options: Callable[["Call"], list[tuple[str, str]]] | None = None
    #: A list field that also takes any typed value (read as text-single).
    open_list: bool = False
    choices: tuple[tuple[str, tuple[str, str]], ...] = ()   #: fixed (value, (en, zh)) options

    def label_in(self, lang: str) -> str:
        return self.label[1] if is_zh(lang) else self.label[0]


@dataclass(frozen=True)
class Alias:
    """A chat word for a command; ``preset`` fixes field values (``/watch`` is monitor with mode silent)."""

    word: str
    preset: tuple[tuple[str, str], ...] = ()
    #: Typed without the slash (the answers "accept"/"reject" to an offer).
    bare: bool = False


@dataclass
class Call:
    """One run of a command, whatever the surface."""

    plugin: "SupportPlugin"
    actor: str                  #: full JID of who runs it
    role: str                   #: what the actor is here: agent | supervisor | offered (see Registry.role_of)
    lang: str                   #: en | zh
    surface: str                #: chat | adhoc | iq
    values: dict[str, Any] = field(default_factory=dict)
    ticket: "Ticket | None" = None
    queue: str = ""

    @property
    def bare(self) -> str:
        return self.actor.split("/", 1)[0]

    @property
    def engine(self) -> Any:
        return self.plugin.engine

    def text(self, en: str, zh: str) -> str:
        return zh if is_zh(self.lang) else en

    def value(self, var: str) -> str:
        """A field's value as one stripped string (multi-line fields joined)."""
        raw = self.values.get(var)
        if isinstance(raw, list):
            raw = "\n".join(str(v) for v in raw)
        return str(raw or "").strip()


Handler = Callable[[Call], Awaitable["str | None"]]


@dataclass(frozen=True)
class Declaration:
    name: str
    title: tuple[str, str]                      #: English, Chinese (the XEP-0050 node's name)
    places: tuple[str, ...]                     #: where it runs: SESSION and/or QUEUE
    roles: tuple[str, ...]                      #: roles that may run it (see Registry.role_of)
    handler: Handler
    aliases: tuple[Alias, ...] = ()
    fields: tuple[Field, ...] = ()
    #: XEP-0050 node, or None for a chat-only command.
    node: str | None = None
    #: Name of the IQ child element (our namespace or XEP-0142) that runs it, if any.
    element: str | None = None
    #: Shown in the chat when a required field is missing (English, Chinese).
    usage: tuple[str, str] | None = None
    #: Shown above the XEP-0050 form (English, Chinese).
    instructions: tuple[str, str] | None = None
    #: Field values from the IQ child element named by ``element``.
    read_element: Callable[[Any], dict[str, Any]] | None = None
    #: Before the XEP-0050 form: a text ends the command at once (e.g. nothing to choose from).
    ready: Callable[[Call], "str | None"] | None = None

    def usage_in(self, lang: str) -> str:
        if self.usage is None:
            return ""
        return self.usage[1] if is_zh(lang) else self.usage[0]

    def title_in(self, lang: str) -> str:
        return self.title[1] if is_zh(lang) else self.title[0]


def parse_chat(body: str) -> tuple[str, str] | None:
    """``/transfer sales`` -> ("transfer", "sales"); None when the body is not a slash command."""
    body = body.strip()
    if not body.startswith("/") or len(body) < 2:
        return None
    name, _, rest = body[1:].partition(" ")
    return name.lower(), rest.strip()


class Registry:
    """Every declared command, found by chat word, XEP-0050 node or IQ element."""

    def __init__(self, declarations: Iterable[Declaration]) -> None:
        self.declarations = tuple(declarations)
        self._words: dict[tuple[str, str, bool], tuple[Declaration, Alias]] = {}
        self._nodes: dict[str, Declaration] = {}
        self._elements: dict[str, Declaration] = {}
        for d in self.declarations:
            for alias in d.aliases:
                for place in d.places:
                    key = (place, alias.word.lower(), alias.bare)
                    if key in self._words:
                        raise ValueError(f"support command word {alias.word!r} declared twice at {place}")
                    self._words[key] = (d, alias)
            if d.node:
                if d.node in self._nodes:
                    raise ValueError(f"support command node {d.node} declared twice")
                self._nodes[d.node] = d
            if d.element:
                self._elements[d.element] = d

    def get(self, name: str) -> Declaration:
        return next(d for d in self.declarations if d.name == name)

    def by_word(self, where: str, word: str, bare: bool = False) -> tuple[Declaration, Alias] | None:
        return self._words.get((where, word.lower(), bare))

    def by_node(self, node: str) -> Declaration | None:
        return self._nodes.get(node)

    def by_element(self, element: str) -> Declaration | None:
        return self._elements.get(element)

    def with_nodes(self) -> list[Declaration]:
        return [d for d in self.declarations if d.node]

    @staticmethod
    def role_of(plugin: "SupportPlugin", d: Declaration, bare: str, ticket: "Ticket | None" = None,
                queue: str = "") -> str | None:
        """The role that lets ``bare`` run ``d`` here, or None when they may not.

        At a conversation: the engine's role (agent, supervisor, offered); at a queue: agent or
        supervisor of that queue (an agent who also supervises counts as agent first).
        """
        engine = plugin.engine
        if ticket is not None:
            role = engine.role(ticket, bare)
            return role if SESSION in d.places and role in d.roles else None
        if not queue or QUEUE not in d.places:
            return None
        if "agent" in d.roles and engine.is_agent(queue, bare):
            return "agent"
        if "supervisor" in d.roles and engine.is_supervisor(queue, bare):
            return "supervisor"
        return None

    @staticmethod
    def chat_values(d: Declaration, alias: Alias, argument: str) -> dict[str, Any]:
        """Field values from a chat line: the preset of the alias, then the argument in the first
        text field that the preset leaves empty."""
        values: dict[str, Any] = dict(alias.preset)
        for f in d.fields:
            if f.var not in values and f.type in ("text-single", "text-multi", "list-single"):
                if argument:
                    values[f.var] = argument
                break
        return values

    @staticmethod
    def missing(d: Declaration, values: dict[str, Any]) -> list[str]:
        return [f.var for f in d.fields if f.required and values.get(f.var) in (None, "", [])]

    async def run(self, d: Declaration, call: Call) -> str | None:
        """Run a declared command whose rights the surface checked (``call.role``)."""
        if call.role not in d.roles:
            raise StanzaError("forbidden", "you may not run this command here")
        for f in d.fields:
            if f.var not in call.values and f.default:
                call.values[f.var] = f.default
        if self.missing(d, call.values):
            raise StanzaError("bad-request", d.usage_in("en") or f"{d.name}: a required field is missing")
        return await d.handler(call)
