"""Hats (XEP-0317): given and taken by owners and admins with the XEP's ad-hoc commands, shown in presence."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from .. import harness
from .helpers import Member, client, is_presence_from, room_jid, start

pytestmark = pytest.mark.integration

NS_HATS = "urn:xmpp:hats:0"
DON, DOFF, DLIST = (f"urn:xmpp:hats:commands:{name}" for name in ("don", "doff", "dlist"))
TEACHER = "http://tech.example.edu/hats#Teacher"


def hats_of(presence) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(h.get("uri"), h.get("title")) for h in presence.xml.findall(f"{{{NS_HATS}}}hats/{{{NS_HATS}}}hat")]


async def command(xmpp, room: str, node: str, fields: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    started = await harness.run_command(xmpp, room, node)
    if fields is None:
        return started
    return await harness.run_command(xmpp, room, node, "complete", started.get("sessionid"), fields)


async def test_owners_give_and_take_hats_shown_in_presence(component, prosody):
    await start(component, {"lock_new_rooms": False})
    room = room_jid("hats")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.join(room, "Alice")
        await bob.join(room, "Bob")
        info = await b.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert NS_HATS in info["disco_info"]["features"]
        # Only owners and admins may.
        with pytest.raises(IqError) as refused:
            await command(b, room, DON)
        assert refused.value.iq["error"]["condition"] == "forbidden"
        alice.inbox.items.clear()
        done = await command(a, room, DON, {"hats#jid": "bob@localhost", "hats#hat": TEACHER,
                                            "hats#title": "Teacher"})
        assert done.get("status") == "completed"
        update = await alice.inbox.next(is_presence_from(f"{room}/Bob"))
        assert hats_of(update) == [(TEACHER, "Teacher")]
        own = await bob.inbox.next(lambda s: is_presence_from(f"{room}/Bob")(s) and hats_of(s))
        assert hats_of(own) == [(TEACHER, "Teacher")]
        # A client's own <hats/> is dropped: only the room gives hats.
        forged = b.make_presence(pto=f"{room}/Bob")
        forged.xml.append(forged.xml.makeelement(f"{{{NS_HATS}}}hats", {}))
        forged.xml[-1].append(forged.xml.makeelement(f"{{{NS_HATS}}}hat", {"uri": "urn:x:boss", "title": "Boss"}))
        alice.inbox.items.clear()
        forged.send()
        update = await alice.inbox.next(is_presence_from(f"{room}/Bob"))
        assert hats_of(update) == [(TEACHER, "Teacher")]
        # Listed, then taken off.
        listed = await command(a, room, DLIST)
        rows = listed.findall("{jabber:x:data}x/{jabber:x:data}item")
        assert [{f.get("var"): f.findtext("{jabber:x:data}value") for f in row} for row in rows] == [
            {"hats#jid": "bob@localhost", "hats#hat": TEACHER, "hats#title": "Teacher"}]
        alice.inbox.items.clear()
        await command(a, room, DOFF, {"hats#jid": "bob@localhost", "hats#hat": TEACHER})
        update = await alice.inbox.next(is_presence_from(f"{room}/Bob"))
        assert hats_of(update) == []
        # Someone joining later sees no hat either; a new one shows at once to a newcomer.
        await command(a, room, DON, {"hats#jid": "alice@localhost", "hats#hat": "urn:x:host", "hats#title": "Host"})
        async with client(prosody, "carol") as c:
            carol = Member(c)
            await carol.join(room, "Carol")
            seen = {s["from"].resource: hats_of(s) for s in carol.inbox.items
                    if s.xml.tag.endswith("}presence") and s["from"].bare == room}
            assert seen["Alice"] == [("urn:x:host", "Host")] and seen["Bob"] == []
