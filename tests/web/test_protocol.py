"""The web channel's protocol (urn:switchboard:web:0) with plain clients: tokens, resume, revoke, context."""
from __future__ import annotations

import time
from xml.etree.ElementTree import SubElement

import pytest
from lxml import etree
from slixmpp.exceptions import IqError

from plugins.support_web import identity, stanza
from tests import harness
from tests.harness import Inbox, until
from tests.schema import ROOT, assert_valid, validate_children
from tests.support import kit

from .guest import guest

NS = stanza.NS
KEY = "site-shared-key"
EXAMPLES = sorted((ROOT / "examples").glob("web-*.xml"))


def web_config(**queue_options):
    services = kit.config(kit.queue(**queue_options))
    services[kit.DOMAIN]["support_web"] = {"identity_secret": KEY}
    return services


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path):
    root = etree.parse(str(path)).getroot()
    stanzas = list(root) if root.tag == "exchange" else [root]
    assert sum(validate_children(s) for s in stanzas) >= 1


def test_builders_and_signatures():
    assert_valid(stanza.token("A" * 43, "01abc"))
    assert_valid(stanza.resumed("01abc", "active"))
    claims = {"name": "李雷", "email": "l@example.com", "ts": str(int(time.time()))}
    good = identity.sign(KEY.encode(), claims)
    now = time.time()
    assert identity.verify(KEY.encode(), claims, good, now, 60)
    assert not identity.verify(KEY.encode(), {**claims, "name": "Han Meimei"}, good, now, 60)
    assert not identity.verify(b"", claims, good, now, 60)  # no key: never verified
    assert not identity.verify(KEY.encode(), claims, good, now + 3600, 60)  # too old
    assert not identity.verify(KEY.encode(), claims, "", now, 60)
    data = {"url": "https://shop/x", "title": "t", "lang": "zh-CN", "claims": claims}
    assert_valid(stanza.context(data, True))


def say(client, body: str, lang: str) -> None:
    msg = client.make_message(mto=kit.HELP, mbody=body, mtype="chat")
    msg["lang"] = lang
    msg.send()


def iq(client, name: str, **attrs):
    req = client.make_iq_set(ito=kit.HELP)
    SubElement(req.xml, f"{{{NS}}}{name}", attrs)
    return req


def context_iq(client, claims: dict, signature: str = ""):
    req = client.make_iq_set(ito=kit.HELP)
    ctx = SubElement(req.xml, f"{{{NS}}}context")
    SubElement(ctx, f"{{{NS}}}page", {"url": "https://shop.example/orders", "title": "<b>Orders</b>"})
    SubElement(ctx, f"{{{NS}}}lang").text = "zh-CN"
    SubElement(ctx, f"{{{NS}}}identity", {**claims, **({"signature": signature} if signature else {})})
    return req


async def test_token_resume_revoke_and_context(prosody, component):
    app = await component(web_config())
    port = prosody.ports.c2s
    async with guest(port) as first, harness.slix_client(port, "agent1") as agent:
        inbox = Inbox(first)
        agent_inbox = Inbox(agent)
        kit.agent_presence(agent)
        await kit.agent_ready(app, "agent1")

        # No ticket yet: no token.
        with pytest.raises(IqError) as refused:
            await iq(first, "token").send(timeout=5)
        assert refused.value.iq["error"]["condition"] == "item-not-found"

        say(first, "我要人工", "zh")
        await inbox.next(lambda m: m.xml.find(f"{{{kit.NS}}}ticket") is not None)
        answer = await iq(first, "token").send(timeout=5)
        token_el = answer.xml.find(f"{{{NS}}}token")
        assert_valid(token_el)
        token = token_el.text
        assert len(token) >= 43

        claims = {"name": "李雷", "email": "lilei@example.com", "order": "A-1042", "ts": str(int(time.time()))}
        await context_iq(first, claims, identity.sign(KEY.encode(), claims)).send(timeout=5)

        offer = await agent_inbox.next(kit.body_has("accept"), timeout=10)
        agent.send_message(mto=offer["from"], mbody="accept", mtype="chat")
        shown = await agent_inbox.next(lambda m: m.xml.find(f"{{{NS}}}context") is not None)
        ctx = shown.xml.find(f"{{{NS}}}context")
        assert_valid(ctx)
        assert ctx.find(f"{{{NS}}}identity").get("verified") == "true"
        assert ctx.find(f"{{{NS}}}identity").get("signature") is None
        assert "李雷" in shown["body"] and "https://shop.example/orders" in shown["body"]
        session = str(shown["from"])

        # A tampered claim is shown, but never as verified.
        forged = {**claims, "name": "王老板"}
        await context_iq(first, forged, identity.sign(KEY.encode(), claims)).send(timeout=5)
        shown = await agent_inbox.next(lambda m: m.xml.find(f"{{{NS}}}context") is not None)
        assert shown.xml.find(f"{{{NS}}}context/{{{NS}}}identity").get("verified") == "false"

        async with guest(port) as thief, guest(port) as second:
            # Without the token, or with a made-up one: refused; nothing changes hands.
            for bad in ("x" * 43, token[:-2] + "AA"):
                with pytest.raises(IqError) as refused:
                    await iq(thief, "resume", token=bad).send(timeout=5)
                assert refused.value.iq["error"]["condition"] == "not-authorized"
            thief.send_message(mto=session, mbody="hi", mtype="chat")

            # The owner's new login continues the same conversation.
            result = await iq(second, "resume", token=token).send(timeout=5)
            resumed = result.xml.find(f"{{{NS}}}resume")
            assert_valid(resumed)
            assert resumed.get("state") == "active"
            second_inbox = Inbox(second)
            agent.send_message(mto=session, mbody="还在吗？", mtype="chat")
            got = await second_inbox.next(kit.body_has("还在吗"))
            assert got["from"].bare == kit.HELP
            second.send_message(mto=kit.HELP, mbody="在的", mtype="chat")
            await agent_inbox.next(kit.body_has("在的"))
            await inbox.quiet(kit.body_has("还在吗"), 0.2)

            # Revoked: refused from then on.
            await iq(second, "revoke", token=token).send(timeout=5)
            with pytest.raises(IqError) as refused:
                await iq(thief, "resume", token=token).send(timeout=5)
            assert refused.value.iq["error"]["condition"] == "not-authorized"


async def test_tokens_end_with_the_conversation(prosody, component):
    app = await component(web_config())
    async with guest(prosody.ports.c2s) as g:
        inbox = Inbox(g)
        say(g, "hello, a person please", "en")
        await inbox.next(lambda m: m.xml.find(f"{{{kit.NS}}}ticket") is not None)
        token = (await iq(g, "token").send(timeout=5)).xml.find(f"{{{NS}}}token").text
        say(g, "bye", "en")
        await until(lambda: not kit.engine(app).tickets, what="the ticket abandoned")
        async with guest(prosody.ports.c2s) as later:
            with pytest.raises(IqError) as refused:
                await iq(later, "resume", token=token).send(timeout=5)
            assert refused.value.iq["error"]["condition"] == "not-authorized"


async def test_a_ticket_keeps_its_newest_tokens_only(prosody, component):
    await component(web_config())
    async with guest(prosody.ports.c2s) as g, guest(prosody.ports.c2s) as other:
        inbox = Inbox(g)
        say(g, "hello, a person please", "en")
        await inbox.next(lambda m: m.xml.find(f"{{{kit.NS}}}ticket") is not None)
        tokens = [(await iq(g, "token").send(timeout=5)).xml.find(f"{{{NS}}}token").text for _ in range(4)]
        assert len(set(tokens)) == 4
        # tokens_per_ticket = 3: the oldest is revoked, the newest works.
        with pytest.raises(IqError) as refused:
            await iq(other, "resume", token=tokens[0]).send(timeout=5)
        assert refused.value.iq["error"]["condition"] == "not-authorized"
        await iq(other, "resume", token=tokens[-1]).send(timeout=5)
        # Tokens are only for queue addresses, and need their attribute.
        bad = other.make_iq_set(ito="t-x@support.localhost")
        SubElement(bad.xml, f"{{{NS}}}resume", {"token": tokens[-1]})
        with pytest.raises(IqError) as refused:
            await bad.send(timeout=5)
        assert refused.value.iq["error"]["condition"] == "item-not-found"
        with pytest.raises(IqError) as refused:
            await iq(other, "revoke").send(timeout=5)
        assert refused.value.iq["error"]["condition"] == "bad-request"
