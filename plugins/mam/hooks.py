"""The archive's contract with other plugins: its records, its access hook, its events.

Other plugins (MUC's bridge, recall, support, admin) use the public service
``hooks.service("archive")`` (:class:`plugins.mam.service.ArchiveService`) and
these dataclasses; they never touch the ``mam_*`` tables.

Events:

``mam.access`` (:class:`AccessRequest`)
    Fired for every MAM query or metadata request to a bare JID of the
    service. The plugin owning that JID returns an :class:`ArchiveAccess`
    (which archive, may the requester read it, may they see real JIDs);
    ``None`` means "not mine" and the query is refused with item-not-found
    (a local JID) or service-unavailable (the domain itself). The MUC bridge
    answers for rooms; the support plugin answers for its conversation JIDs.

Events the archive subscribes to:

``recall.retracted``
    An object with ``archive``, ``stanza_id`` and ``tombstone`` (Element)
    attributes, and optionally ``legacy`` (the tombstone's older form, or None):
    the archived message becomes that tombstone (both forms). The handler
    returns True when done, None when the id is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from slixmpp import JID

ACCESS = "mam.access"
RECALL_RETRACTED = "recall.retracted"

#: The name under which the public archive service is provided on the hook bus.
SERVICE = "archive"


@dataclass
class ArchiveRecord:
    archive: str            #: bare JID that owns the archive (a room, or a support conversation JID)
    stanza_id: str          #: archive id = the XEP-0359 stanza-id (component.ids.new_id(), time-ordered)
    timestamp: float        #: seconds since the epoch
    stanza: Element | str   #: the message as delivered (from=occupant JID for rooms); str = serialized XML
    author: str = ""        #: real bare JID of the sender ("" for the room/service itself)
    with_jid: str = ""      #: what 'with' matches: occupant JID room@host/nick in rooms, the peer's bare JID in 1:1
    occupant_id: str = ""
    origin_id: str = ""
    client_id: str = ""     #: the sender's stanza id attribute
    kind: str = "groupchat"  #: or "chat"
    retracted: bool = False  #: True once tombstoned


@dataclass
class AccessRequest:
    to: str                 #: the bare JID queried
    requester: JID          #: full JID of who asks


@dataclass
class ArchiveAccess:
    archive: str            #: the archive to read (usually ``to``)
    allowed: bool           #: may the requester read it
    real_jids: bool         #: may the requester see the authors' real JIDs
    reason: str = ""        #: why not (the forbidden error's text)


@dataclass
class QuerySpec:
    """A MAM query: form filters plus RSM paging (what ``ArchiveService.query`` takes)."""

    queryid: str = ""
    with_jid: str | None = None   #: full JID: exactly that occupant/peer; bare: all its resources
                                  #: (and, for requesters allowed real JIDs, that author)
    start: float | None = None    #: seconds since the epoch, inclusive
    end: float | None = None      #: seconds since the epoch, inclusive
    before_id: str | None = None  #: exclusive bound (#extended)
    after_id: str | None = None   #: exclusive bound (#extended)
    ids: list[str] | None = None  #: only these archive ids (#extended)
    max: int | None = None        #: RSM page size (capped by the service)
    after: str | None = None      #: RSM: the page after this id
    before: str | None = None     #: RSM: the page before this id; "" = the last page
    index: int | None = None      #: RSM: skip this many results
    flip: bool = False            #: send the page newest first (#extended)
