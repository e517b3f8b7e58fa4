"""Helpers of the reliability tests: raw requests with their outcome, rooms, archives, the queue.

An *outcome* is ``"ok"`` or ``"<condition>/<type>"`` of the stanza error that
answered a request, so expectations read like the specifications' tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any, AsyncIterator, Callable
from xml.etree import ElementTree as ET

from slixmpp import JID
from slixmpp.exceptions import IqError, IqTimeout

from .. import harness
from ..harness import until  # noqa: F401 - shared by the tests importing this module

ROOMS = "rooms.localhost"
SUPPORT = "support.localhost"
HOST = harness.HOST

NS_MUC = "http://jabber.org/protocol/muc"
NS_USER = NS_MUC + "#user"
NS_ADMIN = NS_MUC + "#admin"
NS_OWNER = NS_MUC + "#owner"
NS_DATA = "jabber:x:data"
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_SID = "urn:xmpp:sid:0"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_MODERATE = "urn:xmpp:message-moderate:1"
NS_WG = "http://jabber.org/protocol/workgroup"
NS_SUPPORT = "urn:switchboard:support:0"
NS_COMMANDS = "http://jabber.org/protocol/commands"

OK = "ok"
_ids = itertools.count()


def jid(user: str) -> str:
    return f"{user}@{HOST}"


def next_id(prefix: str = "r") -> str:
    return f"{prefix}{next(_ids)}-{time.monotonic_ns() % 10**9}"


def error_outcome(stanza: Any) -> str:
    return f"{stanza['error']['condition']}/{stanza['error']['type']}"


class Person:
    """A logged-in slixmpp client with an inbox of every message and presence it receives."""

    def __init__(self, client: Any, user: str) -> None:
        self.client = client
        self.user = user
        self.inbox = harness.Inbox(client, kinds=("message", "presence"))

    @property
    def full(self) -> str:
        return self.client.boundjid.full

    @property
    def bare(self) -> str:
        return self.client.boundjid.bare

    # -- IQs ------------------------------------------------------------------------
    async def iq(self, to: str, payload: str, itype: str = "set", timeout: float = 10) -> tuple[str, Any]:
        """Send an IQ with ``payload`` (XML text); returns (outcome, the answer)."""
        iq = self.client.make_iq(ito=to, itype=itype)
        iq.xml.append(ET.fromstring(payload))
        try:
            result = await iq.send(timeout=timeout)
        except IqError as exc:
            return error_outcome(exc.iq), exc.iq
        except IqTimeout:
            return "timeout", None
        return OK, result

    async def ask(self, to: str, payload: str, itype: str = "set", timeout: float = 10) -> str:
        return (await self.iq(to, payload, itype, timeout))[0]

    # -- messages ---------------------------------------------------------------------
    def send_message(self, to: str, inner: str, mtype: str = "groupchat", mid: str | None = None) -> str:
        mid = mid or next_id("m")
        self.client.send_raw(f"<message xmlns='jabber:client' to='{to}' type='{mtype}' id='{mid}'>{inner}</message>")
        return mid

    async def message_outcome(self, mid: str, delivered: Callable[[], Any], timeout: float = 10) -> str:
        """Wait for either the error answering message ``mid`` or ``delivered()`` (an awaitable)."""
        error = asyncio.ensure_future(self.inbox.next(
            lambda s: s.xml.tag.endswith("}message") and s["type"] == "error" and s["id"] == mid, timeout))
        success = asyncio.ensure_future(delivered())
        try:
            done, _ = await asyncio.wait({error, success}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (error, success):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError, Exception):
                    await task
        if error in done and not error.cancelled() and error.exception() is None:
            return error_outcome(error.result())
        if success in done and not success.cancelled() and success.exception() is None:
            return OK
        return "timeout"

    def groupchat(self, room: str, predicate: Callable[[Any], bool] = lambda m: True,
                  timeout: float = 10) -> Any:
        return self.inbox.next(lambda m: m.xml.tag.endswith("}message") and m["type"] == "groupchat"
                               and m["from"].bare == room and predicate(m), timeout)

    # -- rooms ----------------------------------------------------------------------------
    async def join(self, room: str, nick: str, maxstanzas: int = 0, timeout: float = 10) -> str:
        """Enter a room; the outcome is "ok" on the self-presence (110) or the presence error."""
        return (await self.enter(room, nick, maxstanzas, timeout))[0]

    async def enter(self, room: str, nick: str, maxstanzas: int = 0, timeout: float = 10) -> tuple[str, Any]:
        """Enter a room; returns (outcome, the self-presence or the error presence)."""
        occupant = f"{room}/{nick}"
        self.drop_presences(occupant)
        self.client.send_raw(f"<presence xmlns='jabber:client' to='{occupant}'><x xmlns='{NS_MUC}'>"
                             f"<history maxstanzas='{maxstanzas}'/></x></presence>")
        got = await self.inbox.next(
            lambda s: s.xml.tag.endswith("}presence") and s["from"].full == occupant
            and (s["type"] == "error" or "110" in status_codes(s)), timeout)
        return (error_outcome(got) if got["type"] == "error" else OK), got

    async def leave(self, room: str, nick: str, timeout: float = 10) -> None:
        occupant = f"{room}/{nick}"
        self.drop_presences(occupant)
        self.client.send_raw(f"<presence xmlns='jabber:client' to='{occupant}' type='unavailable'/>")
        await self.inbox.next(lambda s: s.xml.tag.endswith("}presence") and s["from"].full == occupant
                              and s["type"] == "unavailable" and "110" in status_codes(s), timeout)

    def drop_presences(self, occupant: str) -> None:
        """Forget earlier presences of ``occupant`` (a role change also carries 110) before waiting anew."""
        self.inbox.items = [s for s in self.inbox.items
                            if not (s.xml.tag.endswith("}presence") and s["from"].full == occupant)]

    async def say(self, room: str, body: str) -> str:
        """Send a groupchat message; returns the room's stanza-id from its reflection."""
        mid = self.send_message(room, f"<body>{body}</body>")
        reflection = await self.groupchat(room, lambda m: m["id"] == mid)
        return stanza_id(reflection, room)

    async def configure(self, room: str, **fields: Any) -> str:
        return await self.ask(room, f"<query xmlns='{NS_OWNER}'>{submit_form(NS_MUC + '#roomconfig', fields)}</query>")

    async def set_affiliation(self, room: str, who: str, affiliation: str) -> str:
        return await self.ask(room, f"<query xmlns='{NS_ADMIN}'><item affiliation='{affiliation}' jid='{who}'/>"
                                    "</query>")

    async def set_role(self, room: str, nick: str, role: str) -> str:
        return await self.ask(room, f"<query xmlns='{NS_ADMIN}'><item role='{role}' nick='{nick}'/></query>")

    # -- archives ---------------------------------------------------------------------------
    async def archive(self, archive: str, page: int = 100) -> list[tuple[str, ET.Element]]:
        """Every message of an archive, oldest first: (archive id, the forwarded message)."""
        found: list[tuple[str, ET.Element]] = []
        after = None
        while True:
            queryid = next_id("q")
            rsm = f"<max>{page}</max>" + (f"<after>{after}</after>" if after else "")
            outcome, answer = await self.iq(archive, f"<query xmlns='{NS_MAM}' queryid='{queryid}'>"
                                                     f"<set xmlns='{NS_RSM}'>{rsm}</set></query>")
            assert outcome == OK, f"archive query of {archive} by {self.user}: {outcome}"
            mine = [(m, r) for m in self.inbox.items if m.xml.tag.endswith("}message")
                    and (r := m.xml.find(f"{{{NS_MAM}}}result")) is not None and r.get("queryid") == queryid]
            taken = {id(m) for m, _ in mine}
            # By identity: stanza objects compare by value, which is slow on a full inbox.
            self.inbox.items = [m for m in self.inbox.items if id(m) not in taken]
            for _, result in mine:
                forwarded = result.find("{urn:xmpp:forward:0}forwarded")
                inner = next(c for c in forwarded if c.tag.endswith("}message"))
                found.append((result.get("id"), inner))
            fin = answer.xml.find(f"{{{NS_MAM}}}fin")
            last = fin.findtext(f"{{{NS_RSM}}}set/{{{NS_RSM}}}last")
            if fin.get("complete") in ("true", "1") or not last:
                return found
            after = last

    def forget(self) -> None:
        self.inbox.items.clear()


def status_codes(stanza: Any) -> set[str]:
    x = stanza.xml.find(f"{{{NS_USER}}}x")
    return {s.get("code") for s in x.findall(f"{{{NS_USER}}}status")} if x is not None else set()


def stanza_id(message: Any, by: str) -> str:
    xml = message.xml if hasattr(message, "xml") else message
    for element in xml.findall(f"{{{NS_SID}}}stanza-id"):
        if element.get("by") == by:
            return element.get("id")
    raise AssertionError(f"no stanza-id by {by} in {ET.tostring(xml, encoding='unicode')}")


def submit_form(form_type: str, fields: dict[str, Any]) -> str:
    parts = [f"<x xmlns='{NS_DATA}' type='submit'><field var='FORM_TYPE' type='hidden'><value>{form_type}</value>"
             "</field>"]
    for var, value in fields.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        name = var if var.startswith(("muc#", "urn:", "FORM")) else f"muc#roomconfig_{var}"
        rendered = "".join(f"<value>{_text(v)}</value>" for v in values)
        parts.append(f"<field var='{name}'>{rendered}</field>")
    parts.append("</x>")
    return "".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).replace("&", "&amp;").replace("<", "&lt;")


def mam_query(queryid: str, max_items: int = 1) -> str:
    return f"<query xmlns='{NS_MAM}' queryid='{queryid}'><set xmlns='{NS_RSM}'><max>{max_items}</max></set></query>"


def ticket_of(message: Any) -> str | None:
    ticket = message.xml.find(f"{{{NS_SUPPORT}}}ticket")
    return ticket.get("id") if ticket is not None else None


@contextlib.asynccontextmanager
async def people(port: int, *users: str, resource: str = "test") -> AsyncIterator[dict[str, Person]]:
    """Log in several users at once; yields {user: Person}. They log out together, in parallel too."""
    sessions = [harness.slix_client(port, user, resource) for user in users]
    entered = await asyncio.gather(*(session.__aenter__() for session in sessions), return_exceptions=True)
    try:
        for result in entered:
            if isinstance(result, BaseException):
                raise result
        yield {user: Person(client, user) for user, client in zip(users, entered)}
    finally:
        await asyncio.gather(*(session.__aexit__(None, None, None)
                               for session, result in zip(sessions, entered)
                               if not isinstance(result, BaseException)), return_exceptions=True)


async def reconnect(person: Person, port: int, timeout: float = 15) -> None:
    """Log a client whose server went away in again, as clients do after a server restart."""
    started = asyncio.get_running_loop().create_future()

    def on_start(_event: Any) -> None:
        if not started.done():
            started.set_result(True)

    person.client.add_event_handler("session_start", on_start)
    try:
        person.client.connect("127.0.0.1", port)
        await asyncio.wait_for(started, timeout)
    finally:
        person.client.del_event_handler("session_start", on_start)
    person.client.send_presence()


def bare(value: str) -> str:
    return JID(value).bare
