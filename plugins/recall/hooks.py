"""The events the recall plugin fires and the public service it provides.

``recall.retracted`` (:class:`Retracted`)
    A retraction or moderation was authorized. The archive answers by
    replacing the stored message with ``tombstone`` (and ``legacy``) and returns True; None
    means it did not know the id (the plugin then calls the archive's
    ``tombstone`` itself). Fired before anyone is told of the retraction.

The service ``hooks.service("recall")`` is :class:`plugins.recall.engine.Recall`:
``retract_direct(...)`` for 1:1 conversations (the support queue),
``moderate_direct(...)``, and ``window_for(room)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

RETRACTED = "recall.retracted"

#: The name under which the public service is provided on the hook bus.
SERVICE = "recall"


@dataclass
class Retracted:
    archive: str            #: bare JID owning the archive (room or conversation)
    stanza_id: str          #: archive id of the retracted message
    tombstone: Element      #: <retracted xmlns='urn:xmpp:message-retract:1'/> replacing it
    by: str                 #: real bare JID of who retracted (the author, or the moderator)
    moderated: bool         #: True for a moderator's removal (XEP-0425)
    reason: str = ""        #: the moderator's reason, if any
    retraction_id: str = "" #: the retraction message: its archive id in rooms, its 'id' in 1:1 ("" if unknown)
    author: str = ""        #: real bare JID of the original's author
    kind: str = "groupchat" #: groupchat | chat
    timestamp: float = 0.0  #: when the retraction happened
    legacy: Element | None = None  #: the tombstone's older form, stored next to ``tombstone``
