"""MAM on the wire for any component JID (no MUC): a test-owned access hook and the archive service.

This is how the support plugin uses the archive: it stores its conversations
through ``hooks.service("archive")`` and answers ``mam.access`` for its JIDs.
"""

from __future__ import annotations

import itertools
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from component.ids import new_id
from plugins.mam.hooks import ArchiveAccess, ArchiveRecord

from .. import harness
from . import aiox

pytestmark = pytest.mark.integration

DOMAIN = "extra.localhost"
CONV = f"conv@{DOMAIN}"
EMPTY = f"empty@{DOMAIN}"
HOST = harness.HOST
T0 = 1_700_000_000.0
N = 120
_queries = itertools.count()


async def start(component, **options):  # type: ignore[no-untyped-def]
    app = await component({DOMAIN: {"mam": options}})
    service = app.services[DOMAIN]
    archive = service.hooks.service("archive")

    def access(request):  # type: ignore[no-untyped-def]
        if request.to not in (CONV, EMPTY):
            return None
        allowed = request.requester.bare in (f"alice@{HOST}", f"bob@{HOST}")
        return ArchiveAccess(request.to, allowed, real_jids=False, reason="not your conversation")

    service.hooks.on("mam.access", access)
    records = []
    for i in range(N):
        user = ("alice", "bob")[i % 2]
        stanza = ET.Element("{jabber:client}message", {"from": f"{user}@{HOST}/phone", "to": CONV, "type": "chat",
                                                         "id": f"m{i}"})
        ET.SubElement(stanza, "{jabber:client}body").text = f"body {i}"
        records.append(ArchiveRecord(CONV, new_id(T0 + i), T0 + i, stanza, author=f"{user}@{HOST}",
                                     with_jid=f"{user}@{HOST}", kind="chat"))
    await archive.store_many(records)
    return app, archive, records


async def raw_query(client, to: str, inner: str = "", inbox=None, attrs: str = ""):  # type: ignore[no-untyped-def]
    """Send a hand-written MAM query; returns (result <message/> elements in arrival order, <fin/>)."""
    queryid = f"raw{next(_queries)}"
    iq = client.make_iq_set(ito=to)
    iq.xml.append(ET.fromstring(f"<query xmlns='urn:xmpp:mam:2' queryid='{queryid}' {attrs}>{inner}</query>"))
    reply = await iq.send(timeout=10)
    results = []
    if inbox is not None:
        for stanza in list(inbox.items):
            result = stanza.xml.find("{urn:xmpp:mam:2}result")
            if result is not None and result.get("queryid") == queryid:
                inbox.items.remove(stanza)
                results.append(stanza.xml)
    return results, reply.xml.find("{urn:xmpp:mam:2}fin")


def body_of(result_message: ET.Element) -> str:
    inner = result_message.find("{urn:xmpp:mam:2}result/{urn:xmpp:forward:0}forwarded/{jabber:client}message")
    return inner.findtext("{jabber:client}body")


def rsm(fin: ET.Element, name: str) -> ET.Element | None:
    return fin.find(f"{{http://jabber.org/protocol/rsm}}set/{{http://jabber.org/protocol/rsm}}{name}")


async def test_discovery_form_and_metadata(component, prosody):
    _, _, records = await start(component)
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=("xep_0313",)) as alice:
        info = await alice.plugin["xep_0030"].get_info(jid=DOMAIN, timeout=10)
        assert {"urn:xmpp:mam:2", "urn:xmpp:mam:2#extended"} <= set(info["disco_info"]["features"])
        form = await alice.plugin["xep_0313"].get_fields(jid=CONV, timeout=10)
        assert set(form.get_fields()) == {"FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"}
        meta = await alice.plugin["xep_0313"].get_archive_metadata(jid=CONV, timeout=10)
        assert meta["mam_metadata"]["start"]["id"] == records[0].stanza_id
        assert meta["mam_metadata"]["end"]["id"] == records[-1].stanza_id
        assert meta["mam_metadata"]["start"]["timestamp"].timestamp() == T0
        empty = await alice.plugin["xep_0313"].get_archive_metadata(jid=EMPTY, timeout=10)
        element = empty.xml.find("{urn:xmpp:mam:2}metadata")
        assert element is not None and len(element) == 0


async def test_slixmpp_pages_forward_and_backward(component, prosody):
    _, _, records = await start(component)
    expected = [f"body {i}" for i in range(N)]
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=("xep_0313",)) as alice:
        mam = alice.plugin["xep_0313"]
        forward = [m["mam_result"]["forwarded"]["stanza"]["body"]
                   async for m in mam.iterate(jid=CONV, rsm={"max": 25})]
        assert forward == expected
        backward = [m["mam_result"]["forwarded"]["stanza"]["body"]
                    async for m in mam.iterate(jid=CONV, reverse=True, rsm={"max": 25})]
        assert backward == list(reversed(expected))
        # Page by page: exact contents, flags, counts and indexes.
        after = None
        for page_no in range(5):
            rsm_opts = {"max": 25} if after is None else {"max": 25, "after": after}
            page = await mam.retrieve(jid=CONV, rsm=rsm_opts, timeout=10)
            bodies = [m["mam_result"]["forwarded"]["stanza"]["body"] for m in page["mam"]["results"]]
            assert bodies == expected[page_no * 25:page_no * 25 + 25]
            fin = page["mam_fin"]
            assert fin["rsm"]["count"] == str(N)
            assert fin["rsm"]["first_index"] == str(page_no * 25)
            assert fin["rsm"]["first"] == records[page_no * 25].stanza_id
            assert (fin.xml.get("complete") == "true") == (page_no == 4)
            after = fin["rsm"]["last"]
        # Delay stamps carry the archived time; 1:1 messages keep their addressing.
        first = await mam.retrieve(jid=CONV, rsm={"max": 1}, timeout=10)
        forwarded = first["mam"]["results"][0]["mam_result"]["forwarded"]
        assert forwarded["delay"]["stamp"].timestamp() == T0
        assert forwarded["stanza"]["to"] == CONV and forwarded["stanza"]["from"] == f"alice@{HOST}/phone"
        assert first["mam"]["results"][0]["from"] == CONV


async def test_last_page_flip_and_filters(component, prosody):
    _, _, records = await start(component)
    all_ids = [r.stanza_id for r in records]
    async with harness.slix_client(prosody.ports.c2s, "bob", plugins=("xep_0313",)) as bob:
        inbox = harness.Inbox(bob)
        results, fin = await raw_query(bob, CONV, "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max>"
                                                  "<before/></set>", inbox)
        assert [body_of(m) for m in results] == [f"body {i}" for i in range(110, 120)]
        assert rsm(fin, "first").text == all_ids[110] and rsm(fin, "count").text == str(N)
        assert rsm(fin, "first").get("index") is None  # backward pages carry no index (see the plugin)
        assert fin.get("complete") is None
        results, fin = await raw_query(bob, CONV, "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max>"
                                                  "<before/></set><flip-page/>", inbox)
        assert [body_of(m) for m in results] == [f"body {i}" for i in range(119, 109, -1)]
        assert rsm(fin, "first").text == all_ids[110] and rsm(fin, "last").text == all_ids[119]
        # with (bare peer JID), start/end, ids, after-id/before-id.
        form = ("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
                "<value>urn:xmpp:mam:2</value></field>{}</x>")
        results, fin = await raw_query(bob, CONV, form.format(
            f"<field var='with'><value>bob@{HOST}</value></field>"
            "<field var='start'><value>2023-11-14T22:13:30Z</value></field>"
            "<field var='end'><value>2023-11-14T22:13:39Z</value></field>"), inbox)
        # T0 = 2023-11-14T22:13:20Z: seconds 10..19 from bob (odd ones).
        assert [body_of(m) for m in results] == [f"body {i}" for i in range(11, 20, 2)]
        assert fin.get("complete") == "true" and rsm(fin, "count").text == "5"
        ids = "".join(f"<value>{all_ids[i]}</value>" for i in (3, 60, 7))
        results, fin = await raw_query(bob, CONV, form.format(f"<field var='ids'>{ids}</field>"), inbox)
        assert [body_of(m) for m in results] == ["body 3", "body 7", "body 60"]
        results, fin = await raw_query(bob, CONV, form.format(
            f"<field var='after-id'><value>{all_ids[40]}</value></field>"
            f"<field var='before-id'><value>{all_ids[44]}</value></field>"), inbox)
        assert [body_of(m) for m in results] == ["body 41", "body 42", "body 43"]
        results, fin = await raw_query(bob, CONV, "<set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set>",
                                       inbox)
        assert results == [] and rsm(fin, "count").text == str(N) and rsm(fin, "first") is None


async def expect_error(awaitable, condition: str, etype: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(IqError) as err:
        await awaitable
    assert err.value.condition == condition, err.value.text
    assert err.value.iq["error"]["type"] == etype
    return err.value.text


async def test_refusals(component, prosody):
    await start(component)
    async with harness.slix_client(prosody.ports.c2s, "carol", plugins=("xep_0313",)) as carol, \
            harness.slix_client(prosody.ports.c2s, "alice", plugins=("xep_0313",)) as alice:
        inbox = harness.Inbox(carol)
        text = await expect_error(raw_query(carol, CONV, "", inbox), "forbidden", "auth")
        assert text == "not your conversation"
        await expect_error(carol.plugin["xep_0313"].get_archive_metadata(jid=CONV, timeout=10), "forbidden", "auth")
        await expect_error(carol.plugin["xep_0313"].get_fields(jid=CONV, timeout=10), "forbidden", "auth")
        assert inbox.items == []  # not a single result leaked
        await expect_error(raw_query(alice, f"nobody@{DOMAIN}"), "item-not-found", "cancel")
        await expect_error(raw_query(alice, DOMAIN), "service-unavailable", "cancel")
        await expect_error(raw_query(alice, CONV, "<set xmlns='http://jabber.org/protocol/rsm'>"
                                                  f"<after>{new_id()}</after></set>"), "item-not-found", "cancel")
        await expect_error(raw_query(alice, CONV, "<x xmlns='jabber:x:data' type='submit'>"
                                                  "<field var='colour'><value>red</value></field></x>"),
                           "feature-not-implemented", "cancel")
        text = await expect_error(raw_query(alice, CONV, "<x xmlns='jabber:x:data' type='submit'>"
                                                         "<field var='start'><value>soon</value></field></x>"),
                                  "bad-request", "modify")
        assert "start" in text
        await expect_error(raw_query(alice, CONV, "<set xmlns='http://jabber.org/protocol/rsm'><max>many</max>"
                                                  "</set>"), "bad-request", "modify")
        iq = alice.make_iq_set(ito=CONV)
        iq.xml.append(ET.Element("{urn:xmpp:mam:2}metadata"))
        await expect_error(iq.send(timeout=10), "bad-request", "modify")


async def test_page_size_cap(component, prosody):
    await start(component, max_page_size=7)
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=("xep_0313",)) as alice:
        inbox = harness.Inbox(alice)
        results, fin = await raw_query(alice, CONV, "", inbox)
        assert len(results) == 7 and fin.get("complete") is None
        results, fin = await raw_query(alice, CONV, "<set xmlns='http://jabber.org/protocol/rsm'><max>100</max>"
                                                    "</set>", inbox)
        assert len(results) == 7


async def test_aioxmpp_pages_both_ways(component, prosody):
    _, _, records = await start(component)
    expected = [f"body {i}" for i in range(N)]
    async with aiox.client(prosody.ports.c2s, "bob") as bob:
        mam = aiox.MamClient(bob)
        seen: list[str] = []
        after = None
        while True:
            page = await mam.query(CONV, max_=33, after=after)
            assert page.fin.rsm.count == N
            assert page.fin.rsm.first.index == len(seen)
            seen += page.bodies
            if page.fin.complete:
                break
            after = page.fin.rsm.last.value
        assert seen == expected
        older: list[str] = []
        before = ""
        while True:
            page = await mam.query(CONV, max_=50, before=before)
            older = page.bodies + older
            if page.fin.complete:
                break
            before = page.fin.rsm.first.value
        assert older == expected
        page = await mam.query(CONV, fields={"with": [f"alice@{HOST}"]}, max_=5)
        assert page.bodies == [f"body {i}" for i in range(0, 10, 2)] and page.fin.rsm.count == N // 2
        meta = await mam.metadata(CONV)
        assert meta.start.id_ == records[0].stanza_id and meta.end.id_ == records[-1].stanza_id


async def test_periodic_retention_run(component, prosody):
    import asyncio
    import time

    _, archive, records = await start(component, retention_days=1, retention_interval=1)
    # The fixture's messages are from 2023: the first run, a second after start, expires them all.
    fresh = ET.Element("{jabber:client}message", {"from": f"alice@{HOST}/phone", "type": "chat"})
    ET.SubElement(fresh, "{jabber:client}body").text = "recent"
    await archive.store(ArchiveRecord(CONV, new_id(), time.time(), fresh, author=f"alice@{HOST}",
                                      with_jid=f"alice@{HOST}", kind="chat"))
    for _ in range(100):
        if await archive.count(CONV) == 1:
            break
        await asyncio.sleep(0.05)
    assert await archive.count(CONV) == 1
    first, last = await archive.bounds(CONV)
    assert first.stanza_id == last.stanza_id and "recent" in first.stanza


def test_options_are_checked():
    from component.config import ConfigError
    from plugins.mam.plugin import MamOptions

    assert MamOptions().max_page_size == 50
    for bad in ({"max_page_size": 0}, {"max_page_size": 501}, {"retention_days": -1}, {"batch_max": 0}):
        with pytest.raises(ConfigError) as err:
            MamOptions(**bad)
        assert next(iter(bad)) in str(err.value)
