"""Baseline XMPP on a service domain, against a real Prosody and real clients."""

from __future__ import annotations

import asyncio
import os

import pytest
from slixmpp.exceptions import IqError

from . import harness

pytestmark = pytest.mark.integration

DOMAIN = "test.localhost"
ECHO = {"echo": {"prefix": "echo: ", "failure_probe": True}}


async def test_disco_info_lists_identities_and_features(component, prosody):
    await component({DOMAIN: ECHO})
    async with harness.slix_client(prosody.ports.c2s, "alice") as alice:
        info = await alice.plugin["xep_0030"].get_info(jid=DOMAIN, timeout=10)
        features = set(info["disco_info"]["features"])
        assert {"http://jabber.org/protocol/disco#info", "urn:xmpp:ping", "jabber:iq:version",
                "http://jabber.org/protocol/commands", "urn:switchboard:echo:0"} <= features
        identities = info["disco_info"]["identities"]
        assert ("component", "generic", None, "Switchboard") in identities


async def test_disco_items_and_unknown_node(component, prosody):
    await component({DOMAIN: ECHO})
    async with harness.slix_client(prosody.ports.c2s, "alice") as alice:
        items = await alice.plugin["xep_0030"].get_items(jid=DOMAIN, timeout=10)
        assert not items["disco_items"]["items"]
        with pytest.raises(IqError) as err:
            await alice.plugin["xep_0030"].get_info(jid=DOMAIN, node="no-such-node", timeout=10)
        assert err.value.condition == "item-not-found"
        assert err.value.iq["error"]["type"] == "cancel"


async def test_ping_and_version(component, prosody):
    await component({DOMAIN: ECHO})
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=("xep_0092",)) as alice:
        rtt = await alice.plugin["xep_0199"].ping(jid=DOMAIN, timeout=10)
        assert rtt >= 0
        version = await alice.plugin["xep_0092"].get_version(DOMAIN, timeout=10)
        assert version["software_version"]["name"] == "Switchboard"
        assert version["software_version"]["version"]


async def test_unknown_iq_is_service_unavailable(component, prosody):
    await component({DOMAIN: ECHO})
    async with harness.slix_client(prosody.ports.c2s, "alice") as alice:
        iq = alice.make_iq_get(ito=DOMAIN)
        iq.append(__import__("xml.etree.ElementTree").etree.ElementTree.Element("{urn:example:nothing}query"))
        with pytest.raises(IqError) as err:
            await iq.send(timeout=10)
        assert err.value.condition == "service-unavailable"
        assert err.value.iq["error"]["type"] == "cancel"


async def test_handler_failure_answers_internal_server_error_and_service_continues(component, prosody, caplog):
    await component({DOMAIN: ECHO})
    from xml.etree.ElementTree import Element
    async with harness.slix_client(prosody.ports.c2s, "alice") as alice:
        iq = alice.make_iq_get(ito=f"echo@{DOMAIN}")
        iq.append(Element("{urn:switchboard:echo:0}fail"))
        from .schema import assert_valid
        assert_valid(iq.xml.find("{urn:switchboard:echo:0}fail"))
        with pytest.raises(AssertionError):  # the schema does reject what it does not define
            assert_valid(Element("{urn:switchboard:echo:0}other"))
        with pytest.raises(IqError) as err:
            await iq.send(timeout=10)
        assert err.value.condition == "internal-server-error"
        assert err.value.iq["error"]["type"] == "wait"
        assert "deliberate failure" in caplog.text  # logged with its stack trace
        # Still serving: a ping and an echo round trip.
        assert await alice.plugin["xep_0199"].ping(jid=DOMAIN, timeout=10) >= 0
        inbox = harness.Inbox(alice)
        alice.send_message(mto=f"echo@{DOMAIN}", mbody="hello", mtype="chat")
        reply = await inbox.next(lambda m: m["body"].startswith("echo:"))
        assert reply["body"] == "echo: hello"
        assert reply["from"].bare == f"echo@{DOMAIN}"


async def test_message_to_nobody_is_service_unavailable(component, prosody):
    await component({DOMAIN: ECHO})
    async with harness.slix_client(prosody.ports.c2s, "alice") as alice:
        inbox = harness.Inbox(alice)
        msg = alice.make_message(mto=f"nobody@{DOMAIN}", mbody="anyone?", mtype="chat")
        msg["id"] = "question-1"
        msg.send()
        error = await inbox.next(lambda m: m["type"] == "error")
        assert error["error"]["condition"] == "service-unavailable"
        assert error["id"] == "question-1"  # the sender matches errors to its stanzas by id


async def test_echo_hook_veto(component, prosody):
    app = await component({DOMAIN: ECHO})
    # The suite runs on the backend it was asked for (make test runs both).
    assert app.db.is_sqlite == (os.environ.get("SWITCHBOARD_TEST_BACKEND", "sqlite") == "sqlite")
    service = app.services[DOMAIN]
    seen = []

    async def veto(event):
        seen.append(event.body)
        return True if event.body == "blocked" else None

    service.hooks.on("echo.before_reply", veto)
    async with harness.slix_client(prosody.ports.c2s, "alice") as alice:
        inbox = harness.Inbox(alice)
        alice.send_message(mto=f"echo@{DOMAIN}", mbody="blocked", mtype="chat")
        alice.send_message(mto=f"echo@{DOMAIN}", mbody="free", mtype="chat")
        reply = await inbox.next(lambda m: m["body"].startswith("echo:"))
        assert reply["body"] == "echo: free"
        assert seen == ["blocked", "free"]
        counts = await service.hooks.service("echo").all()
        assert counts == [("alice@localhost", 1)]


async def test_command_listing_filtered_by_rights(component, prosody):
    await component({DOMAIN: ECHO})
    async with harness.slix_client(prosody.ports.c2s, "admin", plugins=("xep_0050",)) as admin, \
            harness.slix_client(prosody.ports.c2s, "bob", plugins=("xep_0050",)) as bob:
        listed = await admin.plugin["xep_0030"].get_items(jid=DOMAIN, node="http://jabber.org/protocol/commands",
                                                   timeout=10)
        assert [i[1] for i in listed["disco_items"]["items"]] == ["echo-counts"]
        listed = await bob.plugin["xep_0030"].get_items(jid=DOMAIN, node="http://jabber.org/protocol/commands",
                                                 timeout=10)
        assert not listed["disco_items"]["items"]
        iq = bob.make_iq_set(ito=DOMAIN)
        iq["command"]["node"] = "echo-counts"
        iq["command"]["action"] = "execute"
        with pytest.raises(IqError) as err:
            await iq.send(timeout=10)
        assert err.value.condition == "forbidden"
        iq = admin.make_iq_set(ito=DOMAIN)
        iq["command"]["node"] = "echo-counts"
        iq["command"]["action"] = "execute"
        result = await iq.send(timeout=10)
        assert result["command"]["status"] == "completed"
        assert result["command"]["form"]["type"] == "result"


async def test_input_limits_refuse_floods_big_bodies_and_deep_nesting(component, prosody):
    await component({DOMAIN: ECHO}, limits={"message_rate": 0.5, "message_burst": 3, "max_body_chars": 100,
                                            "max_depth": 8})
    async with harness.slix_client(prosody.ports.c2s, "alice") as alice:
        inbox = harness.Inbox(alice)
        alice.send_message(mto=f"echo@{DOMAIN}", mbody="x" * 101, mtype="chat")
        error = await inbox.next(lambda m: m["type"] == "error")
        assert error["error"]["condition"] == "policy-violation"
        assert error["error"]["type"] == "modify"
        from xml.etree.ElementTree import Element, SubElement
        msg = alice.make_message(mto=f"echo@{DOMAIN}", mbody="deep", mtype="chat")
        node = msg.xml
        for _ in range(12):
            node = SubElement(node, "{urn:example:deep}x")
        msg.send()
        error = await inbox.next(lambda m: m["type"] == "error")
        assert error["error"]["condition"] == "policy-violation", error
        for i in range(3):  # the burst allowance (the two refusals above took none)
            alice.send_message(mto=f"echo@{DOMAIN}", mbody=f"m{i}", mtype="chat")
        for i in range(3):
            assert (await inbox.next(lambda m: m["type"] == "chat"))["body"] == f"echo: m{i}"
        alice.send_message(mto=f"echo@{DOMAIN}", mbody="one too many", mtype="chat")
        error = await inbox.next(lambda m: m["type"] == "error")
        assert error["error"]["condition"] == "resource-constraint"
        assert error["error"]["type"] == "wait"
        await inbox.quiet(lambda m: m["type"] == "chat")
