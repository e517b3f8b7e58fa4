"""Room avatars set by owners through their client (vcard-temp, XEP-0486 advertisement)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from .. import harness
from .helpers import Member, room_jid, start

pytestmark = pytest.mark.integration

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def roominfo(info) -> dict:  # type: ignore[no-untyped-def]
    form = info.xml.find("{http://jabber.org/protocol/disco#info}query/{jabber:x:data}x")
    return {f.get("var"): [v.text for v in f.findall("{jabber:x:data}value")] for f in form}


async def test_owner_sets_the_room_avatar_others_read_it(component, prosody):
    await start(component, {"lock_new_rooms": False})
    room = room_jid("pictured")
    plugins = ("xep_0045", "xep_0054")
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=plugins) as a, \
            harness.slix_client(prosody.ports.c2s, "bob", plugins=plugins) as b:
        alice, bob = Member(a), Member(b)
        await alice.join(room, "Alice")
        await bob.join(room, "Bob")
        vcard = a.plugin["xep_0054"].make_vcard()
        vcard["PHOTO"]["TYPE"] = "image/png"
        vcard["PHOTO"]["BINVAL"] = PNG
        # Only owners may set it.
        assert await bob.expect_iq_error(b.plugin["xep_0054"].publish_vcard(vcard, jid=room, timeout=10)) == (
            "forbidden", "auth")
        await a.plugin["xep_0054"].publish_vcard(vcard, jid=room, timeout=10)
        sha1 = hashlib.sha1(PNG).hexdigest()
        update = await bob.inbox.next(lambda s: s.xml.tag.endswith("}presence") and s["from"].full == room)
        assert update.xml.findtext("{vcard-temp:x:update}x/{vcard-temp:x:update}photo") == sha1
        got = await b.plugin["xep_0054"].get_vcard(room, timeout=10)
        assert got["vcard_temp"]["PHOTO"]["BINVAL"] == PNG and got["vcard_temp"]["PHOTO"]["TYPE"] == "image/png"
        info = await b.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert "vcard-temp" in info["disco_info"]["features"]
        assert roominfo(info)["muc#roominfo_avatarhash"] == [sha1]
        # Garbage is refused; an empty vCard removes the avatar.
        bad = a.plugin["xep_0054"].make_vcard()
        bad["PHOTO"]["TYPE"] = "text/plain"
        bad["PHOTO"]["BINVAL"] = b"hello"
        assert (await alice.expect_iq_error(a.plugin["xep_0054"].publish_vcard(bad, jid=room, timeout=10)))[0] == (
            "not-acceptable")
        await a.plugin["xep_0054"].publish_vcard(a.plugin["xep_0054"].make_vcard(), jid=room, timeout=10)
        info = await b.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert "muc#roominfo_avatarhash" not in roominfo(info)
        got = await b.plugin["xep_0054"].get_vcard(room, timeout=10)
        assert got.xml.find("{vcard-temp}vCard/{vcard-temp}PHOTO") is None
        # A room that does not exist has no vCard.
        missing = await bob.expect_iq_error(b.plugin["xep_0054"].get_vcard(room_jid("nowhere"), timeout=10))
        assert missing == ("item-not-found", "cancel")
