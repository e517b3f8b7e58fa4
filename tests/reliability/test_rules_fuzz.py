"""Property-based checks of the room rules that every kick, voice, ban and grant goes through.

Hypothesis draws who acts (role, affiliation, inside the room or not), on whom and for what, and
the properties are XEP-0045's, stated independently of the code: nobody acts above their own
level, admins and owners keep their role, a moderator by role alone never makes or unmakes
moderators, only admins and owners touch affiliations, only owners touch admins and owners, the
last owner stays, and every refusal is a defined condition with its RFC 6120 type.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from component.errors import CONDITION_TYPES, StanzaError
from plugins.muc.room import (AFFILIATION_RANK, AFFILIATIONS, ROLES, Occupant, Room, RoomConfig,
                              check_affiliation_change, check_role_change)

ROOM = "rules@rooms.localhost"
OCCUPANT_AFFILIATIONS = ("none", "member", "admin", "owner")  # outcasts are never occupants
OCCUPANT_ROLES = ("visitor", "participant", "moderator")


def default_role(affiliation: str, moderated: bool) -> str:
    if affiliation in ("owner", "admin"):
        return "moderator"
    if affiliation == "member":
        return "participant"
    return "visitor" if moderated else "participant"


@st.composite
def occupants(draw: st.DrawFn, name: str) -> Occupant:
    affiliation = draw(st.sampled_from(OCCUPANT_AFFILIATIONS))
    # Admins and owners are always moderators; others may have been given any role.
    role = "moderator" if affiliation in ("owner", "admin") else draw(st.sampled_from(OCCUPANT_ROLES))
    return Occupant(name, f"{name}@localhost", role, affiliation, f"id-{name}")


def outcome(check, *args) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
    try:
        check(*args)
    except StanzaError as error:
        assert CONDITION_TYPES[error.condition] == error.etype, error.condition
        assert error.text, "a refusal says why"
        return error.condition, error.etype
    return None


@settings(max_examples=400, deadline=None)
@given(actor=occupants("actor"), actor_inside=st.booleans(), target=occupants("target"),
       new_role=st.sampled_from(ROLES), moderated=st.booleans())
def test_role_changes(actor, actor_inside, target, new_role, moderated):  # type: ignore[no-untyped-def]
    room = Room(ROOM, RoomConfig(moderated=moderated))
    refused = outcome(check_role_change, room, actor if actor_inside else None, actor.affiliation, target, new_role)
    is_moderator = (actor_inside and actor.role == "moderator") or actor.affiliation in ("owner", "admin")
    if not is_moderator:
        assert refused == ("forbidden", "auth")  # XEP-0045 section 8: moderators only
        return
    # XEP-0045 8.2 and 8.5: never on a higher affiliation; admins and owners keep their role;
    # only admins and owners make or unmake moderators.
    prohibited = (AFFILIATION_RANK[target.affiliation] > AFFILIATION_RANK[actor.affiliation]
                  or (target.affiliation in ("owner", "admin") and new_role != "moderator")
                  or (actor.affiliation not in ("owner", "admin")
                      and (target.role == "moderator" or new_role == "moderator")))
    assert refused == (("not-allowed", "cancel") if prohibited else None), (prohibited, refused)


@settings(max_examples=400, deadline=None)
@given(actor_affiliation=st.sampled_from(AFFILIATIONS), current=st.sampled_from(AFFILIATIONS),
       wanted=st.sampled_from(AFFILIATIONS), other_owner=st.booleans())
def test_affiliation_changes(actor_affiliation, current, wanted, other_owner):  # type: ignore[no-untyped-def]
    room = Room(ROOM, RoomConfig())
    target = "target@localhost"
    if current != "none":
        room.set_affiliation(target, current)
    if other_owner or current != "owner":
        room.set_affiliation("someone@localhost", "owner")  # every room has an owner
    refused = outcome(check_affiliation_change, room, actor_affiliation, target, wanted)
    if actor_affiliation not in ("owner", "admin"):
        assert refused == ("forbidden", "auth")  # XEP-0045 section 9: admins and owners only
        return
    if actor_affiliation == "admin" and ({current, wanted} & {"owner", "admin"}):
        assert refused == ("not-allowed", "cancel")  # only owners act at the admin and owner level
        return
    if current == "owner" and wanted != "owner" and room.owners() == [target]:
        assert refused == ("conflict", "cancel")  # XEP-0045 10.5/10.6: the last owner stays
        return
    assert refused is None, (actor_affiliation, current, wanted, refused)


@settings(max_examples=200, deadline=None)
@given(affiliation=st.sampled_from(OCCUPANT_AFFILIATIONS), moderated=st.booleans())
def test_entering_roles(affiliation, moderated):  # type: ignore[no-untyped-def]
    room = Room(ROOM, RoomConfig(moderated=moderated))
    assert room.default_role(affiliation) == default_role(affiliation, moderated)
    assert room.default_role("outcast") == "none"
