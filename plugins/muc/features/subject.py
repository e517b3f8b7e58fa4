"""The room subject (XEP-0045 8.1): who may change it, storing it, sending it on join."""

from __future__ import annotations

import time
from typing import Any
from xml.etree.ElementTree import Element

from component.errors import StanzaError

from ..events import SESSION_EXTRAS, SUBJECT_MESSAGE
from ..room import Occupant, Room, may_change_subject
from ..stanza import child, subject_xml
from . import ConfigField, Feature


class Subject(Feature):
    config_fields = (
        ConfigField("muc#roomconfig_changesubject", "boolean", "Allow occupants to change the subject",
                    "允许成员更改主题", "change_subject", 90),
    )

    def hook(self, events: Any) -> None:
        super().hook(events)
        events.on(SUBJECT_MESSAGE, self.change)
        events.on(SESSION_EXTRAS, self.subject_xml)

    def subject_xml(self, room: Room) -> str:
        """What a joining client gets after the history (an empty <subject/> when none is set)."""
        sender = f"{room.jid}/{room.subject_nick}" if room.subject_nick else room.jid
        return subject_xml(sender, room.subject, room.subject_occupant_id if room.subject_nick else "")

    async def change(self, room: Room, occupant: Occupant, xml: Element) -> bool:
        if not may_change_subject(room, occupant):
            raise StanzaError("forbidden", "you are not allowed to change the subject of this room")
        subject = child(xml, "subject")
        before = (room.subject, room.subject_nick, room.subject_occupant_id, room.subject_time)
        room.subject = (subject.text or "") if subject is not None else ""
        room.subject_nick = occupant.nick
        room.subject_occupant_id = occupant.occupant_id
        room.subject_time = time.time()
        if room.config.persistent:
            # Stored before it is broadcast: nobody sees a subject the database did not take.
            try:
                await self.host.store.save_subject(room.jid, room.subject, room.subject_nick,
                                                  room.subject_occupant_id, room.subject_time)
            except BaseException:
                room.subject, room.subject_nick, room.subject_occupant_id, room.subject_time = before
                raise
        elem = self.host.occupant_message(room, occupant, xml, "groupchat")
        await self.host.publish_unarchived(room, elem)
        return True

    def roominfo(self, room: Room):  # type: ignore[no-untyped-def]
        return (("muc#roominfo_subject", "text-single", "Current subject", room.subject),
                ("muc#roominfo_changesubject", "boolean", "Occupants may change the subject",
                 room.config.change_subject))
