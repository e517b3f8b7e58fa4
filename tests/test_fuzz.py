"""Hostile input: property-based stanzas thrown at every handler through a real Prosody.

Each generated stanza goes out raw from a real client connection. IQ get/set
must be answered with a result or a well-formed stanza error (never
internal-server-error: that would be a handler bug); messages and presences may
be answered with an error or nothing; after every example the service still
answers a ping. Hypothesis shrinks a failure to the smallest stanza that shows it.
"""

from __future__ import annotations

import asyncio
import itertools
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from component.errors import CONDITION_TYPES

from . import harness

pytestmark = pytest.mark.integration

ROOMS = "rooms.localhost"
SUPPORT = "support.localhost"

NAMESPACES = [
    "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
    "http://jabber.org/protocol/muc", "http://jabber.org/protocol/muc#user",
    "http://jabber.org/protocol/muc#admin", "http://jabber.org/protocol/muc#owner",
    "http://jabber.org/protocol/commands", "jabber:x:data", "urn:xmpp:mam:2", "urn:xmpp:mam:2#extended",
    "http://jabber.org/protocol/rsm", "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:sid:0",
    "urn:xmpp:message-retract:1", "urn:xmpp:message-retract:0", "urn:xmpp:message-moderate:1",
    "urn:xmpp:message-moderate:0", "urn:xmpp:fasten:0", "http://jabber.org/protocol/workgroup",
    "urn:switchboard:support:0", "vcard-temp", "urn:example:unknown",
]
NAMES = ["query", "x", "item", "set", "max", "before", "after", "field", "value", "command", "ping",
         "retract", "moderate", "apply-to", "reason", "join-queue", "depart-queue", "offer-accept",
         "offer-reject", "agent-status", "max-chats", "metadata", "fin", "destroy", "invite", "decline",
         "password", "history", "stanza-id", "occupant-id", "body", "subject", "flip-page", "ticket"]
ATTRS = ["id", "node", "action", "sessionid", "var", "type", "jid", "nick", "role", "affiliation",
         "queryid", "by", "maxstanzas", "maxchars", "seconds", "since", "for", "reason"]
ODD_TEXT = st.one_of(
    st.sampled_from(["", "0", "-1", "999999999999", "true", "nan", "2024-13-45T99:00:00Z",
                     "1970-01-01T00:00:00Z", "room@rooms.localhost/nick", "@@@", "a" * 300, "人工", "\u202e"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, blacklist_categories=("Cs",)),
            max_size=40),
)


def element(depth: int = 0) -> st.SearchStrategy[str]:
    children = st.lists(st.deferred(lambda: element(depth + 1)), max_size=3) if depth < 4 else st.just([])
    return st.builds(
        lambda ns, name, attrs, text, kids, inherit: (
            f"<{name}" + ("" if inherit else f" xmlns={quoteattr(ns)}")
            + "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items()) + ">"
            + escape(text) + "".join(kids) + f"</{name}>"),
        st.sampled_from(NAMESPACES), st.sampled_from(NAMES),
        st.dictionaries(st.sampled_from(ATTRS), ODD_TEXT, max_size=3), ODD_TEXT, children,
        st.booleans() if depth else st.just(False))


TARGETS = st.sampled_from([ROOMS, f"room@{ROOMS}", f"room@{ROOMS}/nick", f"other@{ROOMS}/x",
                           f"{ROOMS}/res", SUPPORT, f"help@{SUPPORT}", f"t-1@{SUPPORT}",
                           f"t-999999@{SUPPORT}", f"nobody@{SUPPORT}/x"])

_ids = itertools.count()


@st.composite
def stanzas(draw: st.DrawFn) -> tuple[str, str, str]:
    kind = draw(st.sampled_from(["iq", "iq", "message", "presence"]))
    to = draw(TARGETS)
    payload = "".join(draw(st.lists(element(), min_size=1 if kind == "iq" else 0, max_size=2)))
    sid = f"fz{next(_ids)}"
    if kind == "iq":
        itype = draw(st.sampled_from(["get", "set"]))
        return kind, sid, f"<iq type='{itype}' id='{sid}' to={quoteattr(to)}>{payload}</iq>"
    if kind == "message":
        mtype = draw(st.sampled_from(["chat", "groupchat", "normal", "headline", "bogus"]))
        body = draw(st.one_of(st.none(), ODD_TEXT))
        body_xml = "" if body is None else f"<body>{escape(body)}</body>"
        return kind, sid, f"<message type='{mtype}' id='{sid}' to={quoteattr(to)}>{body_xml}{payload}</message>"
    ptype = draw(st.sampled_from(["", "unavailable", "probe", "subscribe", "error", "bogus"]))
    type_attr = f" type='{ptype}'" if ptype else ""
    return kind, sid, f"<presence id='{sid}' to={quoteattr(to)}{type_attr}>{payload}</presence>"


def check_error(stanza) -> None:  # type: ignore[no-untyped-def]
    condition = stanza["error"]["condition"]
    assert condition in CONDITION_TYPES, stanza
    assert condition != "internal-server-error", f"a handler failed on input: {stanza}"
    assert stanza["error"]["type"] in ("cancel", "continue", "modify", "auth", "wait"), stanza


@pytest.fixture
async def fuzz_setup(component, prosody):
    app = await component({
        ROOMS: {"muc": {}, "mam": {}, "recall": {}},
        SUPPORT: {"mam": {}, "support": {}},
    })
    async with harness.slix_client(prosody.ports.c2s, "eve", plugins=("xep_0045",)) as eve:
        inbox = harness.Inbox(eve, kinds=("iq", "message", "presence"))
        # A room with some history, so ids and nicks exist to be attacked.
        await eve.plugin["xep_0045"].join_muc_wait(f"room@{ROOMS}", "nick", timeout=10)
        eve.send_message(mto=f"room@{ROOMS}", mbody="seed", mtype="groupchat")
        await inbox.next(lambda s: s.name == "message" and s["body"] == "seed")
        yield app, eve, inbox


@pytest.mark.timeout(300)
async def test_hostile_stanzas_get_correct_errors_and_service_survives(fuzz_setup):
    app, eve, inbox = fuzz_setup
    failures: list[str] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(stanzas())
    def run(case: tuple[str, str, str]) -> None:
        failures.append("")  # marks the example as started, see below
        kind, sid, xml = case
        future = asyncio.run_coroutine_threadsafe(exercise(kind, sid, xml), loop)
        error = future.result(timeout=60)
        if error:
            failures[-1] = error
            raise AssertionError(error)

    async def exercise(kind: str, sid: str, xml: str) -> str:
        eve.send_raw(xml)
        if kind == "iq":
            try:
                reply = await inbox.next(lambda s: s["id"] == sid and s.name == "iq", timeout=10)
            except asyncio.TimeoutError:
                return f"no answer to {xml}"
            if reply["type"] == "error":
                try:
                    check_error(reply)
                except AssertionError as exc:
                    return f"{exc} for {xml}"
            elif reply["type"] != "result":
                return f"odd answer {reply} to {xml}"
        else:
            await asyncio.sleep(0.02)
            for item in [s for s in inbox.items if s["id"] == sid and s["type"] == "error"]:
                try:
                    check_error(item)
                except AssertionError as exc:
                    return f"{exc} for {xml}"
        # Still alive: the domain answers a ping.
        try:
            await eve.plugin["xep_0199"].ping(jid=ROOMS, timeout=10)
            await eve.plugin["xep_0199"].ping(jid=SUPPORT, timeout=10)
        except Exception as exc:  # noqa: BLE001
            return f"service stopped answering after {xml}: {exc}"
        inbox.items.clear()
        return ""

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(run)
    assert not any(failures)
    for service in app.services.values():
        assert service.connected.is_set()
