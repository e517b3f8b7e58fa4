"""The owner's configuration form (XEP-0045 10.1-10.2): instant and reserved rooms, partial
submissions, status codes 104/170/171/172/173, and two extension points for other plugins:
``muc.config_form`` (add fields) and ``muc.config_submitted`` (read them, or refuse the form)."""

from __future__ import annotations

import copy
from typing import Any
from xml.etree.ElementTree import Element

from slixmpp import JID

from component.errors import StanzaError
from component.forms import Form, new_form, values as form_values

from .. import events, hooks
from ..room import ALLOW_PM, BROADCAST_ROLES, WHOIS, Room, RoomConfig
from ..stanza import (CONFIG_CHANGED, LOGGING_OFF, LOGGING_ON, NON_ANONYMOUS, NS_OWNER,
                      NS_ROOMCONFIG, SEMI_ANONYMOUS, Addressed, status_message_xml)
from ..texts import label, text
from . import ConfigField, Feature

OWNERS = "muc#roomconfig_roomowners"
ADMINS = "muc#roomconfig_roomadmins"
_ROLE_OPTIONS = (("moderator", "Moderator", "主持人"), ("participant", "Participant", "参与者"),
                 ("visitor", "Visitor", "访客"))

#: Fields that belong to no other feature.
GENERAL_FIELDS = (
    ConfigField("muc#roomconfig_roomname", "text-single", "Natural-language room name", "聊天室名称", "name", 10),
    ConfigField("muc#roomconfig_roomdesc", "text-single", "Short description of room", "聊天室简介",
                "description", 11),
    ConfigField("muc#roomconfig_lang", "text-single", "Natural language for room discussions", "聊天室讨论语言",
                "lang", 12),
    ConfigField("muc#roomconfig_persistentroom", "boolean", "Make room persistent", "设为永久聊天室",
                "persistent", 20),
    ConfigField("muc#roomconfig_publicroom", "boolean", "Make room publicly searchable", "公开列出聊天室",
                "public", 21),
    ConfigField("muc#roomconfig_whois", "list-single", "Who may discover real JIDs?", "谁可以看到真实 JID？",
                "whois", 55, (("moderators", "Moderators only", "仅主持人"), ("anyone", "Anyone", "所有人"))),
    ConfigField("muc#roomconfig_allowinvites", "boolean", "Allow occupants to invite others", "允许成员邀请他人",
                "allow_invites", 70),
    ConfigField("muc#roomconfig_allowpm", "list-single", "Who may send private messages?", "谁可以发送私聊消息？",
                "allow_pm", 80, (("anyone", "Anyone", "所有人"), ("participants", "Participants", "参与者"),
                                 ("moderators", "Moderators", "主持人"), ("none", "Nobody", "无人"))),
    ConfigField("muc#roomconfig_presencebroadcast", "list-multi", "Roles for which presence is broadcast",
                "广播其出席状态的角色", "presence_broadcast", 110, _ROLE_OPTIONS),
    ConfigField("muc#roomconfig_getmemberlist", "list-multi", "Roles that may retrieve the member list",
                "可获取成员列表的角色", "get_member_list", 120, _ROLE_OPTIONS),
    ConfigField(OWNERS, "jid-multi", "Full list of room owners", "聊天室所有者列表", "@owner", 130),
    ConfigField(ADMINS, "jid-multi", "Full list of room admins", "聊天室管理员列表", "@admin", 131),
    ConfigField("muc#roomconfig_enablearchiving", "boolean", "Enable archiving", "启用消息存档", "archiving", 140),
)


class ConfigForm(Feature):
    config_fields = GENERAL_FIELDS

    def fields(self) -> list[ConfigField]:
        return sorted(self.host.config_fields, key=lambda f: f.order)

    # -- building -------------------------------------------------------------------
    async def build(self, room: Room, lang: str | None) -> Form:
        form = new_form(title=text("config_title", lang, room=room.jid),
                        instructions=text("config_instructions", lang), form_type_value=NS_ROOMCONFIG)
        for spec in self.fields():
            value = self.current(room, spec)
            kwargs: dict[str, Any] = {"var": spec.var, "ftype": spec.ftype,
                                      "label": label(spec.label, spec.label_zh, lang)}
            if spec.ftype in ("list-single", "list-multi"):
                kwargs["options"] = [{"value": v, "label": label(en, zh, lang)} for v, en, zh in spec.options]
            field = form.add_field(**kwargs)
            field["value"] = value
        await self.host.hooks.collect(hooks.CONFIG_FORM, hooks.ConfigFormEvent(room.jid, form, lang or "en"))
        return form

    def current(self, room: Room, spec: ConfigField) -> Any:
        if spec.attr.startswith("@"):
            return room.with_affiliation(spec.attr[1:])
        value = getattr(room.config, spec.attr)
        if spec.attr == "max_users":
            return str(value) if value else "none"
        if spec.attr == "history_length":
            return str(value)
        if spec.attr == "password_protected":
            return room.config.needs_password
        return list(value) if isinstance(value, list) else value

    # -- reading a submission -------------------------------------------------------------
    def parse(self, room: Room, submitted: dict[str, Any]) -> tuple[RoomConfig, dict[str, list[str]]]:
        """The new configuration and the new owner/admin lists (only those submitted)."""
        config = copy.deepcopy(room.config)
        lists: dict[str, list[str]] = {}
        by_var = {spec.var: spec for spec in self.fields()}
        for var, value in submitted.items():
            spec = by_var.get(var)
            if spec is None:
                continue
            if spec.attr.startswith("@"):
                lists[spec.attr[1:]] = sorted({JID(str(jid)).bare for jid in value or ()})
                continue
            setattr(config, spec.attr, self.convert(spec, value))
        if "muc#roomconfig_roomsecret" in submitted and "muc#roomconfig_passwordprotectedroom" not in submitted:
            # Fail safe, as Prosody: a secret alone protects the room, clearing it unprotects it.
            config.password_protected = bool(config.password)
        if config.password_protected and not config.password:
            raise StanzaError("not-acceptable", "a password-protected room needs a password")
        if not config.password_protected:
            config.password = ""
        if "muc#roomconfig_enablearchiving" not in submitted and self.host.options.default_archiving == "persistent":
            # Archiving follows persistence unless the owner says otherwise.
            if config.persistent != room.config.persistent:
                config.archiving = config.persistent
        if "owner" in lists and not lists["owner"]:
            raise StanzaError("not-acceptable", "a room needs at least one owner")
        return config, lists

    def convert(self, spec: ConfigField, value: Any) -> Any:
        attr = spec.attr
        if spec.ftype == "boolean":
            return bool(value)
        if attr == "max_users":
            if value in ("", "none", "0"):
                return 0
            try:
                number = int(value)
            except ValueError:
                raise StanzaError("not-acceptable", f"{spec.var}: not a number: {value!r}") from None
            if number < 0:
                raise StanzaError("not-acceptable", f"{spec.var}: must not be negative")
            return number
        if attr == "history_length":
            try:
                number = int(value or "0")
            except ValueError:
                raise StanzaError("not-acceptable", f"{spec.var}: not a number: {value!r}") from None
            if not 0 <= number <= self.host.options.max_history_fetch:
                raise StanzaError("not-acceptable",
                                  f"{spec.var}: must be between 0 and {self.host.options.max_history_fetch}")
            return number
        if attr == "whois" and value not in WHOIS:
            raise StanzaError("not-acceptable", f"{spec.var}: must be one of {', '.join(WHOIS)}")
        if attr == "allow_pm" and value not in ALLOW_PM:
            raise StanzaError("not-acceptable", f"{spec.var}: must be one of {', '.join(ALLOW_PM)}")
        if attr in ("presence_broadcast", "get_member_list"):
            # "none" is a role too (Prosody's own tests send it); nobody with it is in the room.
            value = [v for v in value if v not in ("none", "")]
            unknown = [v for v in value if v not in BROADCAST_ROLES]
            if unknown:
                raise StanzaError("not-acceptable", f"{spec.var}: unknown roles {', '.join(unknown)}")
            return list(dict.fromkeys(value))
        return value if isinstance(value, str) else str(value)

    # -- the owner's IQ ---------------------------------------------------------------------
    async def get(self, iq: Any, room: Room) -> Any:
        self.require_owner(room, iq["from"].bare)
        reply = iq.reply(clear=True)
        query = Element(f"{{{NS_OWNER}}}query")
        query.append((await self.build(room, iq["lang"])).xml)
        reply.xml.append(query)
        return reply

    def require_owner(self, room: Room, bare: str) -> None:
        if room.affiliation(bare) != "owner":
            raise StanzaError("forbidden", "only owners can configure this room")

    async def submit(self, iq: Any, room: Room, x: Element) -> Any:
        actor = iq["from"]
        self.require_owner(room, actor.bare)
        form_type = x.get("type")
        if form_type == "cancel":
            if room.locked:
                # XEP-0045 10.1.3: cancelling the initial configuration destroys the room.
                await self.host.destroy(room, actor.full)
            return iq.reply(clear=True)
        if form_type != "submit":
            raise StanzaError("bad-request", "submit the configuration form with type 'submit' or 'cancel'")
        built = await self.build(room, iq["lang"])
        types = {var: field["type"] for var, field in built.get_fields().items()}
        submitted = form_values(Form(xml=x), types)
        submitted.pop("FORM_TYPE", None)
        config, lists = self.parse(room, submitted)
        await self.host.hooks.collect(hooks.CONFIG_SUBMITTED, hooks.ConfigSubmitEvent(
            room.jid, submitted, actor.full))
        await self.apply(room, config, lists, actor.full)
        return iq.reply(clear=True)

    async def apply(self, room: Room, config: RoomConfig, lists: dict[str, list[str]], actor: str) -> None:
        old = room.config
        was_locked = room.locked
        room.config = config
        room.locked = False
        actor_occupant = room.by_jid.get(actor)
        actor_nick = actor_occupant.nick if actor_occupant else ""
        for affiliation in ("owner", "admin"):
            if affiliation not in lists:
                continue
            wanted = set(lists[affiliation])
            for jid in room.with_affiliation(affiliation):
                if jid not in wanted:
                    await self.host.set_affiliation(room, jid, "none", actor_nick)
            for jid in sorted(wanted):
                if room.affiliations.get(jid) != affiliation:
                    await self.host.set_affiliation(room, jid, affiliation, actor_nick)
        try:
            if config.persistent:
                await self.host.store.save_room(self.host.stored(room))
            elif old.persistent and not was_locked:
                await self.host.store.delete_room(room.jid, temporary=config.to_dict())
        except BaseException:
            # Not stored: the room keeps the configuration the database still has.
            room.config, room.locked = old, was_locked
            raise
        await self.announce(room, old, actor, was_locked)
        self.host.log.info("room configured", extra={"room": room.jid, "persistent": config.persistent,
                                                    "unlocked": was_locked})
        await self.host.hooks.fire(hooks.ROOM_CONFIG_CHANGED, hooks.RoomEvent(
            room.jid, actor=actor, config=self.host.config_dict(room)))
        await self.host.room_emptied(room)

    async def announce(self, room: Room, old: RoomConfig, actor: str, was_locked: bool = False) -> None:
        """A new configuration is in place (set here, or by another process: peers.py): the
        occupants are told and the features react (members-only removes non-members)."""
        config = room.config
        codes = [CONFIG_CHANGED]
        if config.archiving != old.archiving:
            codes.append(LOGGING_ON if config.archiving else LOGGING_OFF)
        if config.whois != old.whois:
            codes.append(NON_ANONYMOUS if config.non_anonymous else SEMI_ANONYMOUS)
        recipients = room.all_recipients()
        # 104 when something occupants can see changed (XEP-0045 10.2.1), as Prosody: not for a no-op submit.
        if recipients and config != old and (not was_locked or len(codes) > 1):
            data, count = Addressed(status_message_xml(room.jid, codes)).to_many(recipients)
            self.host.send_raw(data, count)
        await self.host.events.collect(events.CONFIG_CHANGED, room, old, actor)
