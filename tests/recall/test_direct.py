"""The recall service for 1:1 conversations, on a service without MUC (as the support queue runs it)."""

from __future__ import annotations

import time
import uuid
from xml.etree.ElementTree import fromstring

import pytest

from component.errors import StanzaError
from component.ids import new_id
from plugins.mam.hooks import ArchiveRecord

from .roomkit import NS_RETRACT

pytestmark = pytest.mark.integration

DIRECT = "test.localhost"


def marker(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


async def test_recall_service_for_direct_conversations(component, prosody):
    """The support queue's seam: a 1:1 message retracted through hooks.service("recall"), no MUC around."""
    app = await component({DIRECT: {"mam": {}, "recall": {"window_seconds": 60}}})
    service = app.services[DIRECT]
    archive, recall = service.hooks.service("archive"), service.hooks.service("recall")
    conversation = f"t-{uuid.uuid4().hex[:8]}@{DIRECT}"
    secret = marker("PRIVATE")
    record = ArchiveRecord(
        archive=conversation, stanza_id=new_id(), timestamp=time.time(),
        stanza=fromstring(f"<message xmlns='jabber:client' type='chat' id='c-1'><body>{secret}</body>"
                          "<origin-id xmlns='urn:xmpp:sid:0' id='c-1'/></message>"),
        author="cust1@localhost", with_jid="cust1@localhost", origin_id="c-1", client_id="c-1", kind="chat")
    await archive.store(record)
    with pytest.raises(StanzaError) as err:
        await recall.retract_direct(conversation, record.stanza_id, "agent1@localhost")
    assert err.value.condition == "forbidden"
    with pytest.raises(StanzaError) as err:  # origin-ids are looked up among the requester's own messages
        await recall.retract_direct(conversation, "c-1", "agent1@localhost")
    assert err.value.condition == "item-not-found"
    removal = await recall.retract_direct(conversation, "c-1", "cust1@localhost", retraction_id="r-1")
    assert removal.record.stanza_id == record.stanza_id
    stored = await archive.get(conversation, record.stanza_id)
    assert stored.retracted and secret not in "".join(stored.stanza.itertext())
    assert stored.stanza.find(f"{{{NS_RETRACT}}}retracted").get("id") == "r-1"
    [payload, *_] = removal.retract_payload("c-1")
    assert payload.get("id") == "c-1"
    # Without MUC there are no room handlers: a moderation IQ here is nobody's.
    assert service.plugins["recall"].rooms is None
    entries = await recall.store.audit_entries(conversation)
    assert [(e.actor, e.kind, e.retraction_id) for e in entries] == [("cust1@localhost", "chat", "r-1")]
