"""End to end: business hours with an injected clock — closed in XEP-0142 terms (join-queue refused,
disco, agents' queue presence), the out-of-hours text in Chinese, a message left as a ticket that an agent
takes, a queue that takes no messages, and opening time."""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import SubElement
from zoneinfo import ZoneInfo

import pytest
from slixmpp.exceptions import IqError

from plugins.support import stanza

from .. import harness
from ..support.kit import (DOMAIN, HELP, WG, agent_presence, body_has, checked, config, engine, jid, queue,
                           ticket_of, until)
from .kit import XDATA, Clock

pytestmark = pytest.mark.integration
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MONDAY = datetime(2025, 9, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
SUNDAY = MONDAY - 86400
HOURS = {"hours": ["mon-fri 09:00-18:00"], "timezone": "Asia/Shanghai", "holidays": ["2025-10-01..2025-10-07"]}
NIGHT = f"night@{DOMAIN}"


def join_iq(client, to=HELP):
    iq = client.make_iq_set(ito=to)
    SubElement(SubElement(iq.xml, f"{{{WG}}}join-queue"), f"{{{WG}}}queue-notifications")
    return iq


async def queue_info(client, to=HELP) -> dict[str, str]:
    info = await client.plugin["xep_0030"].get_info(jid=to, timeout=10)
    for x in info.xml.iter(f"{{{XDATA}}}x"):
        values = {f.get("var"): f.findtext(f"{{{XDATA}}}value") for f in x.findall(f"{{{XDATA}}}field")}
        if values.get("FORM_TYPE") == stanza.QUEUE_INFO_FORM:
            return values
    raise AssertionError("no queue information form in disco#info")


def queue_status(pres) -> str | None:
    return pres.xml.findtext(f"{{{WG}}}notify-queue/{{{WG}}}status")


async def test_out_of_hours_closed_queue_offline_message_taken_by_an_agent_then_opening(component, prosody):
    app = await component(config(queue(**HOURS), queue("night", offline_messages=False, **HOURS),
                                 hours_check_interval=0.1))
    clock = Clock(SUNDAY)
    support = engine(app)
    support.hours_clock = clock
    ops = app.services[DOMAIN].plugins["support"].ops
    await until(lambda: ops._open_now.get("help") is False, what="the hours check sees the queue closed")
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "cust2") as late, \
            harness.slix_client(port, "cust3") as back, harness.slix_client(port, "agent1") as agent:
        cin, lin, bin_, ain = harness.Inbox(cust), harness.Inbox(late), harness.Inbox(back), harness.Inbox(agent)
        apres = harness.Inbox(agent, kinds=("presence",))
        # XEP-0142: closed.
        with pytest.raises(IqError) as err:
            await join_iq(late).send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("service-unavailable", "cancel")
        info = await queue_info(late)
        assert (info["status"], info["timezone"], info["opens"]) == ("closed", "Asia/Shanghai", "2025-09-29T01:00:00Z")
        assert info["hours"] == "Mon–Fri 09:00–18:00 (Asia/Shanghai)"
        # The agent's presence to the queue: closed.
        agent_presence(agent)
        pres = checked(await apres.next(lambda p: p["from"].bare == HELP and queue_status(p) is not None))
        assert (queue_status(pres), pres["show"]) == ("closed", "xa")
        # A customer writing in Chinese leaves a message.
        first = cust.make_message(mto=HELP, mbody="你好，我想退货", mtype="chat")
        first.xml.set(XML_LANG, "zh")
        first.send()
        told = checked(await cin.next(body_has("不在服务时间", "周一至周五 09:00–18:00",
                                               "下次开始服务：周一 2025-09-29 09:00 (Asia/Shanghai)", "您的留言已保存")))
        ticket = ticket_of(told)
        ticket_id = ticket.get("id")
        assert ticket.get("state") == "offline" and ticket_id in told["body"]
        cust.send_message(mto=HELP, mbody="订单号 A-77", mtype="chat")
        await until(lambda: support.tickets[ticket_id].state == "offline", what="still waiting")
        await ain.quiet(body_has("accept"), wait=0.3)  # nobody is offered a left message
        # A queue that takes no messages only tells the hours; no ticket.
        late.send_message(mto=NIGHT, mbody="hello?", mtype="chat")
        await lin.next(body_has("is closed now", "Please write to us again then"))
        assert not [t for t in support.tickets.values() if t.customer == jid("cust2")]
        # Another customer leaves a message too, and writes again once the queue is open.
        back.send_message(mto=HELP, mbody="call me please", mtype="chat")
        await bin_.next(body_has("Your message is saved"))
        # The agent finds the waiting tickets and takes the first one at the queue JID.
        agent.send_message(mto=HELP, mbody="/tickets waiting", mtype="chat")
        listing = await ain.next(body_has("Tickets (2)"))
        assert ticket_id in listing["body"] and "waiting" in listing["body"]
        agent.send_message(mto=HELP, mbody="/take nosuchticket", mtype="chat")
        await ain.next(body_has("⚠"))
        agent.send_message(mto=HELP, mbody=f"/take {ticket_id}", mtype="chat")
        await ain.next(body_has("You now hold ticket", ticket_id))
        await ain.next(body_has("你好，我想退货"))
        await ain.next(body_has("订单号 A-77"))
        await ain.next(body_has("You are now talking with", jid("cust1")))
        await cin.next(body_has("客服 agent1 已为您服务"))
        assert support.tickets[ticket_id].state == "active"
        # Opening time: agents are told by presence; joins are accepted; the waiting customer who writes
        # again is queued.
        clock.now = MONDAY
        pres = checked(await apres.next(lambda p: p["from"].bare == HELP and queue_status(p) == "open"))
        assert pres["show"] in ("", None, "available")
        assert (await queue_info(late))["status"] == "open"
        back.send_message(mto=HELP, mbody="still there?", mtype="chat")
        await bin_.next(body_has("We will connect you"))
        waiting = next(t for t in support.tickets.values() if t.customer == jid("cust3"))
        assert waiting.state in ("queued", "offered")
        assert (await join_iq(late).send(timeout=10))["type"] == "result"
    kinds = [kind for kind, *_ in await support.store.events(ticket_id)]
    assert kinds == ["created", "offline", "accepted"]
    kinds = [kind for kind, *_ in await support.store.events(waiting.id)]
    assert kinds[:3] == ["created", "offline", "queued"]


async def test_a_holiday_closes_the_queue_on_a_weekday_with_the_queue_s_own_text(component, prosody):
    app = await component(config(queue(out_of_hours_en="Happy National Day! The help desk rests.", **HOURS)))
    holiday = datetime(2025, 10, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # a Wednesday
    engine(app).hours_clock = Clock(holiday)
    async with harness.slix_client(prosody.ports.c2s, "cust1") as cust:
        info = await queue_info(cust)
        assert (info["status"], info["opens"]) == ("closed", "2025-10-08T01:00:00Z")
        inbox = harness.Inbox(cust)
        cust.send_message(mto=HELP, mbody="hello", mtype="chat")
        told = await inbox.next(body_has("We open again on Wed 2025-10-08 09:00 (Asia/Shanghai)"))
        assert told["body"].startswith("Happy National Day! The help desk rests.\n")
        assert "is closed now" not in told["body"]
