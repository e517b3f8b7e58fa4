"""Guests stay guests: anonymous accounts of the guest host reach the support domain and nothing else.

Prosody's mod_switchboard_guest (prosody-config/modules) does it; these run against the session's
real Prosody with plain slixmpp clients logging in with SASL ANONYMOUS.
"""
from __future__ import annotations

from tests import harness
from tests.harness import Inbox

from .guest import guest

ECHO = {"support.localhost": {"echo": {"prefix": "echo: "}}}


def error_of(stanza) -> str:
    return stanza["error"]["condition"] if stanza["type"] == "error" else ""


async def test_guest_reaches_support_and_nothing_else(prosody, component):
    await component(ECHO)
    port = prosody.ports.c2s
    async with guest(port) as g, guest(port) as other, harness.slix_client(port, "alice") as alice:
        assert g.boundjid.domain == harness.GUEST_HOST and g.boundjid.user
        inbox, alice_inbox, other_inbox = Inbox(g), Inbox(alice), Inbox(other)

        g.send_message(mto="echo@support.localhost", mbody="hello", mtype="chat")
        answer = await inbox.next(lambda m: m["from"].bare == "echo@support.localhost")
        assert answer["body"] == "echo: hello"

        for target in (f"alice@{harness.HOST}", harness.HOST, "room@rooms.localhost", "someone@example.org",
                       other.boundjid.bare, "echo@test.localhost"):
            g.send_message(mto=target, mbody="<b>spam</b>", mtype="chat")
            refused = await inbox.next(lambda m, t=target: m["type"] == "error" and m["from"] == t)
            assert error_of(refused) == "not-allowed", target
        await alice_inbox.quiet(lambda m: m["type"] == "chat", 0.3)
        await other_inbox.quiet(lambda m: m["type"] == "chat", 0.1)

        # No presence subscription to local users and no room creation either.
        g.send_presence(pto=f"bob@{harness.HOST}", ptype="subscribe")
        g.send_presence(pto="room@rooms.localhost/nick")
        presences = Inbox(g, ("presence",))
        for target in (f"bob@{harness.HOST}", "room@rooms.localhost/nick"):
            refused = await presences.next(lambda p, t=target: p["type"] == "error" and p["from"] == t)
            assert error_of(refused) == "not-allowed"

        # The guest host itself still answers (disco), so clients work as usual.
        info = await g.plugin["xep_0030"].get_info(jid=harness.GUEST_HOST, timeout=5)
        assert info["type"] == "result"


async def test_guest_rate_limit(prosody, component):
    await component(ECHO)
    async with guest(prosody.ports.c2s) as g:
        inbox = Inbox(g)
        for i in range(40):
            g.send_message(mto="echo@support.localhost", mbody=f"m{i}", mtype="chat")
        refused = await inbox.next(lambda m: m["type"] == "error")
        assert error_of(refused) == "policy-violation"
        answers = await harness.until(lambda: [m for m in inbox.items if m["body"].startswith("echo:")] or None)
        assert answers
        await harness.until(lambda: len([m for m in inbox.items if m["body"].startswith("echo:")]) >= 19,
                            what="the burst through")
        # Not all forty went through: the rest were refused.
        assert len([m for m in inbox.items if m["body"].startswith("echo:")]) < 40
