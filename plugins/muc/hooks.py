"""The events the MUC plugin fires and the public service it provides.

This is MUC's whole contract with other plugins (archive, recall, admin,
support): they subscribe to these events on the service's hook bus and call
the service published as ``hooks.service("muc")``. MUC imports none of them.

Events (awaited, in priority order; the first non-None result stops the chain):

``muc.message`` (:class:`GroupchatMessage`)
    A groupchat message is about to be broadcast. The stanza already carries
    our ``<stanza-id>`` and ``<occupant-id>``. A handler may raise a
    ``StanzaError`` to refuse it (the sender gets the error, nobody gets the
    message) or return non-None to swallow it silently. The archive stores it
    here, so a broadcast message is always archived first.
``muc.broadcast`` (:class:`GroupchatMessage`)
    After the broadcast (notifications only; the result is ignored).
``muc.get_history`` (:class:`HistoryRequest`)
    A joining occupant asks for history; a handler returns a list of
    :class:`HistoryItem` (oldest first) or None to let MUC use its in-memory
    fallback.
``muc.room_created`` / ``muc.room_destroyed`` / ``muc.room_config_changed`` (:class:`RoomEvent`)
``muc.occupant_joined`` / ``muc.occupant_left`` (:class:`OccupantEvent`)
``muc.config_form`` (:class:`ConfigFormEvent`)
    Collect: handlers add fields to the owner's configuration form.
``muc.config_submitted`` (:class:`ConfigSubmitEvent`)
    Collect: handlers read their fields from the submitted values and may
    raise ``StanzaError('not-acceptable', ...)`` to refuse the whole form.
``muc.disco_features`` (room JID as str)
    Collect: handlers return an iterable of extra room features.

Stanzas handed to handlers (``GroupchatMessage.stanza``) are ``xml.etree`` elements
in the ``jabber:client`` namespace; ``plugins.muc.stanza.serialize(element)`` gives
their compact XML. ``HistoryItem.stanza`` may be in ``jabber:client`` or carry no
namespace; a ``to`` attribute on it is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol
from xml.etree.ElementTree import Element

MESSAGE = "muc.message"
BROADCAST = "muc.broadcast"
GET_HISTORY = "muc.get_history"
ROOM_CREATED = "muc.room_created"
ROOM_DESTROYED = "muc.room_destroyed"
ROOM_CONFIG_CHANGED = "muc.room_config_changed"
OCCUPANT_JOINED = "muc.occupant_joined"
OCCUPANT_LEFT = "muc.occupant_left"
CONFIG_FORM = "muc.config_form"
CONFIG_SUBMITTED = "muc.config_submitted"
DISCO_FEATURES = "muc.disco_features"

#: The name under which the public service is provided on the hook bus.
SERVICE = "muc"


@dataclass
class GroupchatMessage:
    room: str               #: bare room JID
    stanza_id: str          #: the room's XEP-0359 id (time-ordered, see component.ids)
    nick: str               #: sender's nick ("" for messages from the room itself)
    real_jid: str           #: sender's real full JID ("" for the room itself)
    occupant_id: str        #: sender's XEP-0421 id ("" for the room itself)
    stanza: Element         #: the message as broadcast: from=room/nick, no 'to', with stanza-id/occupant-id
    timestamp: float        #: seconds since the epoch
    archive: bool           #: the room has archiving on
    origin_id: str = ""     #: the sender's XEP-0359 origin-id, if any
    client_id: str = ""     #: the sender's stanza 'id' attribute (reflected, muc#stable_id)


@dataclass
class HistoryRequest:
    room: str
    requester: str          #: real full JID of the joining occupant
    maxchars: int | None = None
    maxstanzas: int | None = None
    seconds: int | None = None
    since: float | None = None  #: seconds since the epoch
    default_max: int = 20   #: the room's history length when the client asked nothing


@dataclass
class HistoryItem:
    stanza: Element         #: the message as broadcast (from=room/nick)
    timestamp: float


@dataclass
class RoomEvent:
    room: str
    actor: str = ""         #: real JID of who caused it, if anyone
    reason: str = ""
    config: dict[str, Any] = field(default_factory=dict)  #: current config (muc#roomconfig_* names)


@dataclass
class OccupantEvent:
    room: str
    nick: str
    real_jid: str
    occupant_id: str
    role: str
    affiliation: str


@dataclass
class ConfigFormEvent:
    room: str
    form: Any               #: slixmpp xep_0004 Form being built; add fields to it
    lang: str = "en"


@dataclass
class ConfigSubmitEvent:
    room: str
    values: dict[str, Any]  #: submitted values by field var (typed as MUC read them)
    actor: str = ""


@dataclass
class OccupantView:
    room: str
    nick: str
    real_jid: str           #: full JID
    occupant_id: str
    role: str               #: moderator | participant | visitor
    affiliation: str        #: owner | admin | member | none


class MucService(Protocol):
    """What other plugins may ask the MUC plugin (``hooks.service("muc")``)."""

    def room_exists(self, room: str) -> bool: ...
    def rooms(self) -> Iterable[str]: ...
    def room_config(self, room: str) -> dict[str, Any]: ...
    def affiliation(self, room: str, bare_jid: str) -> str: ...
    def occupant(self, room: str, real_full_jid: str) -> OccupantView | None: ...
    def occupant_by_nick(self, room: str, nick: str) -> OccupantView | None: ...
    def occupants(self, room: str) -> list[OccupantView]: ...
    def occupant_id(self, room: str, real_bare_jid: str) -> str: ...
    def can_read_history(self, room: str, bare_jid: str) -> bool: ...
    def can_see_real_jids(self, room: str, bare_jid: str) -> bool: ...
    async def broadcast_from_room(self, room: str, payload: list[Element], archive: bool = True) -> str: ...
    # The room's in-memory history (what joiners get when nothing archives; the last messages with a body):
    def recent_message(self, room: str, stanza_id: str) -> HistoryItem | None: ...
    def forget_message(self, room: str, stanza_id: str) -> bool: ...  # with its XEP-0308 corrections
    # Administration (the caller checks rights; MUC keeps its own rules such as the last owner):
    def affiliations(self, room: str) -> dict[str, str]: ...
    def rooms_owned_by(self, bare_jid: str) -> list[str]: ...
    async def create_room(self, room: str, owner: str | None = None, config: dict[str, Any] | None = None,
                          actor: str = "") -> None: ...
    async def configure_room(self, room: str, config: dict[str, Any], actor: str = "") -> None: ...
    async def destroy_room(self, room: str, reason: str = "", alternate: str = "", actor: str = "") -> None: ...
    async def set_affiliation(self, room: str, jid: str, affiliation: str, actor: str = "",
                              reason: str = "") -> None: ...
