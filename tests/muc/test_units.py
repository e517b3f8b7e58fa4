"""Unit tests: stanza building, room rules, history limits, creation policy, configuration parsing."""

from __future__ import annotations

from types import SimpleNamespace
from xml.etree.ElementTree import Element, SubElement, fromstring

import pytest

from component.config import from_dict
from component.errors import StanzaError
from component.hooks import HookBus
from plugins.muc.features.config_form import ConfigForm
from plugins.muc.features.history import History, limit
from plugins.muc.features.max_users import MaxUsers
from plugins.muc.features.members_only import MembersOnly
from plugins.muc.features.moderated import Moderated
from plugins.muc.features.password import Password
from plugins.muc.features.subject import Subject
from plugins.muc.plugin import MucOptions
from plugins.muc.room import (Occupant, Room, RoomConfig, Session, check_affiliation_change, check_role_change,
                              may_change_subject, may_invite, may_send_pm, role_after_affiliation)
from plugins.muc.service import Rooms
from plugins.muc.stanza import Addressed, escape_attr, item_xml, presence_xml, serialize, with_delay

ROOM = "room@rooms.example"


# -- stanzas -----------------------------------------------------------------
def test_serialize_is_compact_and_declares_only_foreign_namespaces():
    msg = Element("{jabber:component:accept}message", {"from": ROOM + "/a", "type": "groupchat",
                                                        "{http://www.w3.org/XML/1998/namespace}lang": "zh"})
    SubElement(msg, "{jabber:component:accept}body").text = 'a < b & "c" >'
    reactions = SubElement(msg, "{urn:xmpp:reactions:0}reactions", {"id": "x\"y"})
    SubElement(reactions, "{urn:xmpp:reactions:0}reaction").text = "👍"
    forwarded = SubElement(msg, "{urn:xmpp:forward:0}forwarded")
    inner = SubElement(forwarded, "{jabber:client}message")
    SubElement(inner, "{jabber:client}body").text = "inner"
    SubElement(msg, "{urn:xmpp:sid:0}stanza-id", {"id": "1", "by": ROOM})
    xml = serialize(msg)
    assert xml == ('<message from="room@rooms.example/a" type="groupchat" xml:lang="zh">'
                   '<body>a &lt; b &amp; "c" &gt;</body>'
                   '<reactions xmlns="urn:xmpp:reactions:0" id="x&quot;y"><reaction>👍</reaction></reactions>'
                   '<forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client"><body>inner</body>'
                   '</message></forwarded><stanza-id xmlns="urn:xmpp:sid:0" id="1" by="room@rooms.example"/>'
                   '</message>')
    parsed = fromstring(xml.replace("<message ", '<message xmlns="jabber:client" ', 1))
    assert parsed.find("{jabber:client}body").text == 'a < b & "c" >'
    assert parsed.find("{urn:xmpp:forward:0}forwarded/{jabber:client}message/{jabber:client}body").text == "inner"


def test_addressed_substitutes_only_to():
    template = Addressed('<message from="r@x/n" type="groupchat"><body>hi</body></message>')
    assert template.to("a@x/1") == '<message to="a@x/1" from="r@x/n" type="groupchat"><body>hi</body></message>'
    data, count = template.to_many(["a@x/1", escape_attr('b"@x/2')])
    assert count == 2
    assert data == ('<message to="a@x/1" from="r@x/n" type="groupchat"><body>hi</body></message>'
                    '<message to="b&quot;@x/2" from="r@x/n" type="groupchat"><body>hi</body></message>')
    assert template.to_many([]) == ("", 0)
    assert Addressed("<presence/>").to("a@x") == '<presence to="a@x"/>'


def test_delay_goes_inside_the_stanza():
    delayed = with_delay('<message from="r@x/n"><body>b</body></message>', 0.0, "r@x")
    assert delayed == ('<message from="r@x/n"><body>b</body>'
                       '<delay xmlns="urn:xmpp:delay" stamp="1970-01-01T00:00:00.000Z" from="r@x"/></message>')
    empty = with_delay('<message from="r@x/n"/>', 0.0, "r@x")
    assert empty.startswith('<message from="r@x/n"><delay ') and empty.endswith("</message>")


def test_presence_building():
    item = item_xml("member", "participant", jid="a@x/r", nick="new", actor_nick="Mod", reason="r & r")
    xml = presence_xml(ROOM + "/old", "<show>away</show>", item, ["110", "303"], "OID", unavailable=True)
    parsed = fromstring(xml.replace("<presence ", '<presence xmlns="jabber:client" ', 1))
    user = "{http://jabber.org/protocol/muc#user}"
    assert parsed.get("type") == "unavailable"
    assert parsed.find("{jabber:client}show").text == "away"
    assert parsed.find(f"{user}x/{user}item").attrib == {"affiliation": "member", "role": "participant",
                                                         "jid": "a@x/r", "nick": "new"}
    assert parsed.find(f"{user}x/{user}item/{user}reason").text == "r & r"
    assert [s.get("code") for s in parsed.iter(f"{user}status")] == ["110", "303"]
    assert parsed.find("{urn:xmpp:occupant-id:0}occupant-id").get("id") == "OID"


# -- rules -------------------------------------------------------------------
def make_room(**config: object) -> Room:
    room = Room(ROOM, RoomConfig(**config))
    room.set_affiliation("owner@x", "owner")
    room.set_affiliation("admin@x", "admin")
    room.set_affiliation("member@x", "member")
    return room


def occupant(room: Room, bare: str, role: str | None = None) -> Occupant:
    affiliation = room.affiliation(bare)
    found = Occupant(bare.split("@")[0], bare, role or room.default_role(affiliation), affiliation, "id")
    found.sessions[bare + "/r"] = Session(bare + "/r", bare + "/r", "")
    room.occupants[found.nick] = found
    room.by_jid[bare + "/r"] = found
    return found


def refusal(call, *args) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
    try:
        call(*args)
    except StanzaError as exc:
        return exc.condition, exc.etype
    return None


def test_role_rules():
    room = make_room(moderated=True)
    owner, admin = occupant(room, "owner@x"), occupant(room, "admin@x")
    member, guest = occupant(room, "member@x"), occupant(room, "guest@x")
    assert guest.role == "visitor" and member.role == "participant" and admin.role == "moderator"
    assert refusal(check_role_change, room, member, "member", guest, "participant") == ("forbidden", "auth")
    assert refusal(check_role_change, room, admin, "admin", owner, "none") == ("not-allowed", "cancel")
    assert refusal(check_role_change, room, owner, "owner", admin, "visitor") == ("not-allowed", "cancel")
    assert refusal(check_role_change, room, admin, "admin", guest, "moderator") is None
    assert refusal(check_role_change, room, admin, "admin", member, "none") is None
    # A moderator by role only: participants and visitors, never moderators.
    member.role = "moderator"
    assert refusal(check_role_change, room, member, "member", guest, "participant") is None
    assert refusal(check_role_change, room, member, "member", guest, "moderator") == ("not-allowed", "cancel")
    guest.role = "moderator"
    assert refusal(check_role_change, room, member, "member", guest, "participant") == ("not-allowed", "cancel")
    assert refusal(check_role_change, room, owner, "owner", guest, "bogus") == ("bad-request", "modify")


def test_affiliation_rules_and_last_owner():
    room = make_room()
    assert refusal(check_affiliation_change, room, "member", "x@x", "member") == ("forbidden", "auth")
    assert refusal(check_affiliation_change, room, "admin", "x@x", "outcast") is None
    assert refusal(check_affiliation_change, room, "admin", "x@x", "admin") == ("not-allowed", "cancel")
    assert refusal(check_affiliation_change, room, "admin", "owner@x", "none") == ("not-allowed", "cancel")
    assert refusal(check_affiliation_change, room, "admin", "admin@x", "member") == ("not-allowed", "cancel")
    assert refusal(check_affiliation_change, room, "owner", "owner@x", "admin") == ("conflict", "cancel")
    room.set_affiliation("second@x", "owner")
    assert refusal(check_affiliation_change, room, "owner", "owner@x", "admin") is None
    assert refusal(check_affiliation_change, room, "owner", "x@x", "king") == ("bad-request", "modify")


def test_roles_after_affiliation_changes():
    room = make_room(members_only=True)
    guest = occupant(room, "member@x")
    assert role_after_affiliation(room, guest, "outcast") == "none"
    assert role_after_affiliation(room, guest, "none") == "none", "members-only: losing membership removes"
    assert role_after_affiliation(room, guest, "admin") == "moderator"
    open_room = make_room()
    admin = occupant(open_room, "admin@x")
    assert role_after_affiliation(open_room, admin, "member") == "participant"
    voiced = occupant(open_room, "x@x", role="moderator")
    assert role_after_affiliation(open_room, voiced, "member") == "moderator", "a granted role is kept"


def test_permissions_by_config():
    room = make_room(allow_pm="participants", allow_invites=False, change_subject=True, moderated=True)
    visitor, member, admin = occupant(room, "v@x"), occupant(room, "member@x"), occupant(room, "admin@x")
    assert not may_send_pm(room, visitor) and may_send_pm(room, member)
    room.config.allow_pm = "none"
    assert not may_send_pm(room, admin)
    assert not may_invite(room, member) and may_invite(room, admin)
    assert may_change_subject(room, member) and not may_change_subject(room, visitor)
    room.config.change_subject = False
    assert not may_change_subject(room, member) and may_change_subject(room, admin)


def test_service_admins_act_as_owners():
    room = Room(ROOM, RoomConfig(), is_service_admin=lambda jid: jid == "root@x")
    assert room.affiliation("root@x") == "owner" and room.affiliation("other@x") == "none"
    room.set_affiliation("root@x", "outcast")
    assert room.affiliation("root@x") == "owner"


# -- history -------------------------------------------------------------------
def test_history_limits():
    items = [(f"<m{i}/>", 100.0 + i) for i in range(10)]
    assert [x for x, _ in limit(items, 3, None, None)] == ["<m7/>", "<m8/>", "<m9/>"]
    assert [x for x, _ in limit(items, None, 12, None)] == ["<m8/>", "<m9/>"], "6 characters each"
    assert [x for x, _ in limit(items, None, None, 107.5)] == ["<m8/>", "<m9/>"]
    assert limit(items, 0, None, None) == []
    assert limit([], 5, None, None) == []


async def test_history_request_parsing_uses_the_fallback():
    options = from_dict(MucOptions, {"max_history_fetch": 3}, "<test>")
    muc = SimpleNamespace(options=options, hooks=SimpleNamespace(has=lambda _e: False))
    history = History(muc)  # type: ignore[arg-type]
    room = Room(ROOM, RoomConfig(history_length=2))
    for i in range(5):
        room.remember(f"id{i}", f'<message from="{ROOM}/a"><body>{i}</body></message>', 1000.0 + i)
    default = await history.fetch(room, "a@x/r", None)
    assert [h.split("<body>")[1][0] for h in default] == ["3", "4"], "the room's length when nothing is asked"
    asked = await history.fetch(room, "a@x/r", Element("history", {"maxstanzas": "50"}))
    assert len(asked) == 3, "never more than max_history_fetch"
    assert await history.fetch(room, "a@x/r", Element("history", {"maxchars": "0"})) == []
    since = await history.fetch(room, "a@x/r", Element("history", {"since": "1970-01-01T00:16:43Z"}))
    assert [h.split("<body>")[1][0] for h in since] == ["3", "4"]


# -- the service ---------------------------------------------------------------
def rooms(**options: object) -> Rooms:
    return Rooms("rooms.example", from_dict(MucOptions, options, "<test>"), lambda jid: jid == "root@example")


def test_creation_policy_and_defaults():
    assert refusal(rooms(creation="admins").check_may_create, "a@example") == ("not-allowed", "cancel")
    assert refusal(rooms(creation="admins").check_may_create, "root@example") is None
    local = rooms(creation="local")
    assert local.policy.local_domain == "example"
    assert refusal(local.check_may_create, "a@example") is None
    assert refusal(local.check_may_create, "a@elsewhere") == ("not-allowed", "cancel")
    limited = rooms(max_rooms_per_user=1)
    limited.create(ROOM, "a@example")
    assert refusal(limited.check_may_create, "a@example") == ("not-allowed", "cancel")
    assert limited.get(ROOM).locked and limited.get(ROOM).affiliation("a@example") == "owner"
    assert rooms(default_persistent=True).default_config().archiving is True
    assert rooms().default_config().archiving is True, "rooms archive unless configured otherwise"
    assert rooms(default_archiving="persistent").default_config().archiving is False
    assert rooms(default_archiving="persistent", default_persistent=True).default_config().archiving is True
    assert rooms(default_archiving="off", default_persistent=True).default_config().archiving is False


def test_occupant_ids_are_stable_distinct_and_opaque():
    one, other = rooms(), rooms()
    one.secret = other.secret = b"s"
    assert one.occupant_id(ROOM, "a@x") == other.occupant_id(ROOM, "a@x")
    assert one.occupant_id(ROOM, "a@x") != one.occupant_id(ROOM, "b@x")
    assert one.occupant_id(ROOM, "a@x") != one.occupant_id("other@rooms.example", "a@x")
    assert "a@x" not in one.occupant_id(ROOM, "a@x")


# -- configuration -----------------------------------------------------------------
def config_form() -> ConfigForm:
    # Archiving that follows persistence is what test_config_parsing checks.
    host = SimpleNamespace(options=from_dict(MucOptions, {"default_archiving": "persistent"}, "<test>"),
                           config_fields=[])
    form = ConfigForm(host)  # type: ignore[arg-type]
    bus = HookBus()
    for feature in (form, Password(host), MembersOnly(host), Moderated(host), MaxUsers(host), Subject(host),
                    History(host)):
        feature.hook(bus)  # type: ignore[arg-type]
    return form


def test_config_parsing():
    form = config_form()
    room = make_room()
    config, lists = form.parse(room, {"muc#roomconfig_maxusers": "none", "muc#roomconfig_whois": "anyone",
                                      "muc#roomconfig_passwordprotectedroom": True,
                                      "muc#roomconfig_roomsecret": "pw", "muc#roomconfig_persistentroom": True,
                                      "muc#roomconfig_historylength": "5", "unknown#field": "x"})
    assert (config.max_users, config.whois, config.password, config.history_length) == (0, "anyone", "pw", 5)
    assert config.archiving is True, "archiving follows persistence unless set"
    assert lists == {} and room.config.whois == "moderators", "the room itself is untouched by parsing"
    for bad in ({"muc#roomconfig_maxusers": "-1"}, {"muc#roomconfig_whois": "everyone"},
                {"muc#roomconfig_allowpm": "friends"}, {"muc#roomconfig_presencebroadcast": ["king"]},
                {"muc#roomconfig_historylength": "100000"}, {"muc#roomconfig_passwordprotectedroom": True},
                {"muc#roomconfig_roomowners": []}):
        with pytest.raises(StanzaError) as err:
            form.parse(room, bad)
        assert (err.value.condition, err.value.etype) == ("not-acceptable", "modify"), bad
    kept, _ = form.parse(room, {"muc#roomconfig_passwordprotectedroom": False, "muc#roomconfig_roomsecret": "x"})
    assert kept.password == "", "no password is kept for a room that does not ask for one"


def test_the_room_creation_handed_to_another_process_is_valid():
    """``<create/>`` (plugins/muc/peers.py): what we send and the protocol example match the schema."""
    from lxml import etree

    from plugins.muc.peers import create_element

    from ..schema import ROOT, assert_valid

    assert_valid(create_element("9c41e2d07a5b3f10", "carol@example.com", "admin@example.com",
                                {"muc#roomconfig_persistentroom": False, "muc#roomconfig_roomname": "站会"}))
    example = etree.parse(str(ROOT / "examples" / "muc-peer-create.xml")).getroot()
    assert_valid(example.find("{urn:switchboard:muc:peer:0}create"))
    with pytest.raises(AssertionError):
        assert_valid(create_element("not hex", "carol@example.com", "admin@example.com", {}))
