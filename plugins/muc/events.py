"""The room events features hook and fire, inside the MUC plugin (after Prosody's ``muc-*`` events).

They run on the plugin's own bus (:attr:`plugins.muc.host.RoomHost.events`), not the
service's: their payloads are MUC's internal objects. Other plugins use
:mod:`plugins.muc.hooks` instead. Semantics are the bus's: ``fire`` runs handlers
by priority (highest first) and stops at the first non-None result; ``collect``
gathers them all.

``PRE_JOIN`` (:class:`JoinRequest`), fire
    Before a session enters. A handler raises ``StanzaError`` to refuse. Priorities,
    as Prosody orders its checks: lock 100, nick conflicts 90, bans 80, members-only
    70, password 60, capacity 50.
``SESSION_EXTRAS`` (room), collect
    What a joining session gets after its self-presence and history (the subject).
``JOIN_HISTORY`` (room, requester full JID, ``<history/>`` element or None), fire
    The history a joining session gets, serialized.
``CONFIG_CHANGED`` (room, old config, actor), collect
    After a new configuration was applied.
``DISCO_FEATURES`` / ``ROOMINFO`` (room), collect
    Disco features (iterables of vars) / ``muc#roominfo`` fields ((var, type, label, value) tuples).
``SUBJECT_MESSAGE`` (room, occupant, message element), fire
    A groupchat message with a subject and no body.
``ROOM_MESSAGE`` (room, message stanza), fire
    A normal message to the room's bare JID (invitations, voice requests): True when handled.
``SELF_PING`` (room, iq, nick), fire
    A ping to an occupant JID from itself (XEP-0410): the reply, or None to forward it.
``SET_AFFILIATION`` (:class:`AffiliationChange`) / ``SET_ROLE`` (:class:`RoleChange`) /
``DESTROY`` (:class:`Destruction`), fire
    Requests features make of each other: the one feature that owns them acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .room import Occupant, Room

PRE_JOIN = "muc#pre-join"
SESSION_EXTRAS = "muc#session-extras"
JOIN_HISTORY = "muc#join-history"
CONFIG_CHANGED = "muc#config-changed"
DISCO_FEATURES = "muc#disco-features"
ROOMINFO = "muc#roominfo"
SUBJECT_MESSAGE = "muc#subject-message"
ROOM_MESSAGE = "muc#room-message"
SELF_PING = "muc#self-ping"
SET_AFFILIATION = "muc#set-affiliation"
SET_ROLE = "muc#set-role"
DESTROY = "muc#destroy"

#: PRE_JOIN priorities (highest runs first).
LOCK, NICK, BAN, MEMBERS_ONLY, PASSWORD, CAPACITY = 100, 90, 80, 70, 60, 50


@dataclass
class JoinRequest:
    room: "Room"
    nick: str
    real_jid: str
    bare_jid: str
    affiliation: str
    password: str | None
    new_occupant: bool  # False: another session of an existing occupant


@dataclass
class AffiliationChange:
    room: "Room"
    jid: str                #: bare JID
    affiliation: str
    actor_nick: str = ""
    reason: str = ""
    nick: str | None = None  #: a nick reserved with the affiliation
    tell_user: bool = True   #: an absent user hears of it (status 101)


@dataclass
class RoleChange:
    room: "Room"
    occupant: "Occupant"
    role: str
    actor_nick: str = ""
    reason: str = ""


@dataclass
class Destruction:
    room: "Room"
    actor: str              #: real full JID
    reason: str = ""
    alternate: str = ""
    password: str = ""
