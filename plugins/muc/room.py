"""Room state and the XEP-0045 rules on roles and affiliations (no network, no database).

Memory per occupant stays small: slots dataclasses, the presence payload kept
already serialized, the recipient's JID kept already escaped for the
broadcast templates (see :class:`plugins.muc.stanza.Addressed`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from xml.etree.ElementTree import Element, fromstring

from component import namespaces as xmlns
from component.errors import StanzaError

from .stanza import NS_OCCUPANT_ID, NS_SID, escape_attr

ROLES = ("none", "visitor", "participant", "moderator")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
AFFILIATIONS = ("outcast", "none", "member", "admin", "owner")
AFFILIATION_RANK = {affiliation: rank for rank, affiliation in enumerate(AFFILIATIONS)}
ALLOW_PM = ("anyone", "participants", "moderators", "none")
WHOIS = ("moderators", "anyone")
BROADCAST_ROLES = ("moderator", "participant", "visitor")


@dataclass
class RoomConfig:
    """A room's configuration; each field maps to one ``muc#roomconfig_*`` form field."""

    name: str = ""
    description: str = ""
    lang: str = ""
    persistent: bool = False
    public: bool = True
    members_only: bool = False
    moderated: bool = False
    whois: str = "moderators"
    password_protected: bool = False
    password: str = ""
    change_subject: bool = False
    allow_invites: bool = False
    allow_pm: str = "anyone"
    max_users: int = 0  # 0: no limit
    presence_broadcast: list[str] = field(default_factory=lambda: list(BROADCAST_ROLES))
    get_member_list: list[str] = field(default_factory=lambda: list(BROADCAST_ROLES))
    archiving: bool = False
    history_length: int = 20

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RoomConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def needs_password(self) -> bool:
        return self.password_protected and bool(self.password)

    @property
    def non_anonymous(self) -> bool:
        return self.whois == "anyone"


@dataclass(slots=True)
class Session:
    """One client resource joined as an occupant."""

    jid: str        #: real full JID
    to_attr: str    #: the JID escaped for a ``to`` attribute
    payload: str    #: the serialized presence children (show, status, caps...) minus MUC's own


@dataclass(slots=True)
class Occupant:
    """A nick in the room; with multi-session nicks one bare JID holds it from several resources."""

    nick: str
    bare_jid: str
    role: str
    affiliation: str
    occupant_id: str
    sessions: dict[str, Session] = field(default_factory=dict)

    @property
    def primary(self) -> Session:
        """The session whose presence others see (the most recently updated)."""
        return next(reversed(self.sessions.values()))

    @property
    def is_moderator(self) -> bool:
        return self.role == "moderator"


@dataclass(slots=True)
class HistoryEntry:
    seq: int
    stanza_id: str
    xml: str        #: serialized without ``to``
    timestamp: float


class Room:
    def __init__(self, jid: str, config: RoomConfig, *, locked: bool = False,
                 is_service_admin: Callable[[str], bool] = lambda _jid: False,
                 history_capacity: int = 100) -> None:
        self.jid = jid
        self.jid_attr = escape_attr(jid)
        self.config = config
        self.locked = locked
        self.created = time.time()
        self.destroyed = False
        self.is_service_admin = is_service_admin
        self.affiliations: dict[str, str] = {}       # bare JID -> owner/admin/member/outcast
        self.reserved_nicks: dict[str, str] = {}     # bare JID -> nick registered with its affiliation
        self.affiliation_reasons: dict[str, str] = {}
        self.occupants: dict[str, Occupant] = {}     # nick -> occupant
        self.by_jid: dict[str, Occupant] = {}        # real full JID -> occupant
        self.subject = ""
        self.subject_nick = ""
        self.subject_occupant_id = ""
        self.subject_time = 0.0
        self.history: deque[HistoryEntry] = deque(maxlen=max(1, history_capacity))
        #: Serialized elements features add to the presence of a bare JID's occupant (XEP-0317 hats).
        self.presence_extras: dict[str, str] = {}
        self.history_seq = 0
        #: Completion of the last message in the broadcast pipeline (keeps broadcast order).
        self.tail: asyncio.Future | None = None
        self._recipients: list[str] | None = None

    def __repr__(self) -> str:
        return f"<Room {self.jid} occupants={len(self.occupants)}>"

    # -- affiliations -------------------------------------------------------
    def affiliation(self, bare_jid: str) -> str:
        found = self.affiliations.get(bare_jid)
        if found is None:
            if self.is_service_admin(bare_jid):
                return "owner"
            return "none"
        if found != "owner" and self.is_service_admin(bare_jid):
            return "owner"
        return found

    def owners(self) -> list[str]:
        return [jid for jid, affiliation in self.affiliations.items() if affiliation == "owner"]

    def with_affiliation(self, affiliation: str) -> list[str]:
        return sorted(jid for jid, value in self.affiliations.items() if value == affiliation)

    def set_affiliation(self, bare_jid: str, affiliation: str, reason: str = "", nick: str | None = None) -> None:
        if affiliation == "none":
            self.affiliations.pop(bare_jid, None)
            self.affiliation_reasons.pop(bare_jid, None)
            self.reserved_nicks.pop(bare_jid, None)
        else:
            self.affiliations[bare_jid] = affiliation
            if reason:
                self.affiliation_reasons[bare_jid] = reason
            else:
                self.affiliation_reasons.pop(bare_jid, None)
            if nick:
                self.reserved_nicks[bare_jid] = nick
            if affiliation == "outcast":
                self.reserved_nicks.pop(bare_jid, None)

    def nick_reserved_by(self, nick: str) -> str | None:
        for jid, reserved in self.reserved_nicks.items():
            if reserved == nick:
                return jid
        return None

    def default_role(self, affiliation: str) -> str:
        if affiliation in ("owner", "admin"):
            return "moderator"
        if affiliation == "member":
            return "participant"
        if affiliation == "outcast":
            return "none"
        return "visitor" if self.config.moderated else "participant"

    # -- occupants ------------------------------------------------------------
    def occupant_by_jid(self, full_jid: str) -> Occupant | None:
        return self.by_jid.get(full_jid)

    def occupants_of(self, bare_jid: str) -> list[Occupant]:
        return [o for o in self.occupants.values() if o.bare_jid == bare_jid]

    def sessions(self) -> Iterator[Session]:
        for occupant in self.occupants.values():
            yield from occupant.sessions.values()

    def all_recipients(self) -> list[str]:
        """Every session's escaped JID; cached between joins and leaves (the broadcast hot path)."""
        if self._recipients is None:
            self._recipients = [s.to_attr for o in self.occupants.values() for s in o.sessions.values()]
        return self._recipients

    def sessions_changed(self) -> None:
        """Call after adding or removing a session."""
        self._recipients = None

    def session_count(self) -> int:
        return len(self.by_jid)

    def can_see_jids(self, viewer: Occupant | None) -> bool:
        return self.config.non_anonymous or (viewer is not None and viewer.role == "moderator")

    def broadcasts_presence_of(self, role: str) -> bool:
        return role in self.config.presence_broadcast

    def is_member_or_above(self, bare_jid: str) -> bool:
        return AFFILIATION_RANK[self.affiliation(bare_jid)] >= AFFILIATION_RANK["member"]

    # -- history --------------------------------------------------------------
    def remember(self, stanza_id: str, xml: str, timestamp: float) -> None:
        self.history_seq += 1
        self.history.append(HistoryEntry(self.history_seq, stanza_id, xml, timestamp))

    def find_history(self, stanza_id: str) -> HistoryEntry | None:
        for entry in self.history:
            if entry.stanza_id == stanza_id:
                return entry
        return None

    def forget_history(self, stanza_id: str) -> bool:
        """Drop one message from the in-memory history (a retraction in a room that does not archive),
        with its XEP-0308 corrections by the same occupant, which carry its edited text."""
        entry = self.find_history(stanza_id)
        if entry is None:
            return False
        self.history.remove(entry)
        original = fromstring(entry.xml)
        author = _occupant_id(original)
        ids = _ids(original, stanza_id)
        for later in [e for e in self.history if e.seq > entry.seq and _CORRECT in e.xml]:
            message = fromstring(later.xml)
            replace = message.find(f"{{{_CORRECT}}}replace")
            if replace is not None and replace.get("id") in ids and _occupant_id(message) == author:
                ids |= _ids(message, later.stanza_id)  # a correction of the correction points at it
                self.history.remove(later)
        return True

    @property
    def is_empty(self) -> bool:
        return not self.occupants


_CORRECT = xmlns.CORRECT


def _occupant_id(message: Element) -> str:
    found = message.find(f"{{{NS_OCCUPANT_ID}}}occupant-id")
    return found.get("id", "") if found is not None else ""


def _ids(message: Element, stanza_id: str) -> set[str]:
    origin = message.find(f"{{{NS_SID}}}origin-id")
    return {i for i in (stanza_id, message.get("id", ""), origin.get("id", "") if origin is not None else "") if i}


# -- rules -------------------------------------------------------------------
def check_role_change(room: Room, actor: Occupant | None, actor_affiliation: str,
                      target: Occupant, role: str) -> None:
    """XEP-0045 sections 8 and 9: may ``actor`` give ``target`` the ``role``? Raises otherwise."""
    if role not in ROLES:
        raise StanzaError("bad-request", f"unknown role {role!r}")
    actor_is_moderator = (actor is not None and actor.role == "moderator") or actor_affiliation in ("owner", "admin")
    if not actor_is_moderator:
        raise StanzaError("forbidden", "only moderators can change roles")
    if target.affiliation in ("owner", "admin") and role != "moderator":
        # Admins and owners keep their role; nobody kicks or silences them.
        raise StanzaError("not-allowed", "the role of an admin or owner cannot be changed")
    if AFFILIATION_RANK[actor_affiliation] >= AFFILIATION_RANK["admin"]:
        if AFFILIATION_RANK[target.affiliation] > AFFILIATION_RANK[actor_affiliation]:
            raise StanzaError("not-allowed", "you cannot change the role of someone above you")
        return
    # XEP-0045 8.2 and 8.5: nobody kicks or silences a user of higher affiliation (a member, for
    # a moderator without one).
    if AFFILIATION_RANK[target.affiliation] > AFFILIATION_RANK[actor_affiliation]:
        raise StanzaError("not-allowed", "you cannot change the role of someone above you")
    # A moderator by role only acts on participants and visitors, and cannot make moderators.
    if target.role == "moderator" or role == "moderator":
        raise StanzaError("not-allowed", "only admins and owners can grant or revoke moderator status")


def check_affiliation_change(room: Room, actor_affiliation: str, target_jid: str, affiliation: str) -> None:
    """XEP-0045 sections 9 and 10: may an actor with ``actor_affiliation`` do this? Raises otherwise."""
    if affiliation not in AFFILIATIONS:
        raise StanzaError("bad-request", f"unknown affiliation {affiliation!r}")
    current = room.affiliations.get(target_jid, "none")
    if actor_affiliation not in ("owner", "admin"):
        raise StanzaError("forbidden", "only admins and owners can change affiliations")
    if actor_affiliation == "admin":
        if current in ("owner", "admin") or affiliation in ("owner", "admin"):
            raise StanzaError("not-allowed", "only owners can grant or revoke admin and owner status")
    if current == "owner" and affiliation != "owner" and room.owners() == [target_jid]:
        raise StanzaError("conflict", "the last owner cannot be removed; appoint another owner first")


def role_after_affiliation(room: Room, occupant: Occupant, affiliation: str) -> str:
    """The role an occupant gets when its affiliation changes (none = it must leave)."""
    if affiliation == "outcast":
        return "none"
    if room.config.members_only and affiliation == "none":
        return "none"
    new_default = room.default_role(affiliation)
    if affiliation in ("owner", "admin"):
        return "moderator"
    if occupant.role == "moderator" and occupant.affiliation in ("owner", "admin"):
        return new_default  # lost admin rights: moderator status came with them
    # Keep a role given by a moderator (voice, moderator) unless the new default is higher.
    return new_default if ROLE_RANK[new_default] > ROLE_RANK[occupant.role] else occupant.role


def may_send_pm(room: Room, sender: Occupant) -> bool:
    policy = room.config.allow_pm
    if policy == "anyone":
        return True
    if policy == "participants":
        return sender.role in ("participant", "moderator")
    if policy == "moderators":
        return sender.role == "moderator"
    return False


def may_invite(room: Room, inviter: Occupant) -> bool:
    if room.config.allow_invites:
        return True
    return inviter.role == "moderator" or inviter.affiliation in ("owner", "admin")


def may_change_subject(room: Room, occupant: Occupant) -> bool:
    if occupant.role == "moderator":
        return True
    return room.config.change_subject and occupant.role == "participant"


def may_get_member_list(room: Room, occupant: Occupant | None, affiliation: str) -> bool:
    if affiliation in ("owner", "admin"):
        return True
    return occupant is not None and occupant.role in room.config.get_member_list
