"""Baseline XMPP on every service domain: XEP-0030 disco, XEP-0199 ping, XEP-0092 version.

The domain's disco#info aggregates the identities and features its plugins
declare; plugins that own other JIDs of the domain (rooms, queues) answer for
those with higher-priority handlers on the same events and pass (return None)
for the rest.
"""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING, Any

from slixmpp import Iq
from slixmpp.plugins.xep_0030.stanza import DiscoInfo, DiscoItems
from slixmpp.plugins.xep_0092.stanza import Version
from slixmpp.plugins.xep_0199.stanza import Ping
from slixmpp.xmlstream import register_stanza_plugin

from . import namespaces as xmlns
from . import __version__
from .errors import StanzaError

if TYPE_CHECKING:
    from .service import Service

DISCO_INFO = xmlns.DISCO_INFO
DISCO_ITEMS = xmlns.DISCO_ITEMS
PING = xmlns.PING
VERSION = xmlns.VERSION
COMMANDS = xmlns.COMMANDS

CORE_FEATURES = (DISCO_INFO, DISCO_ITEMS, PING, VERSION, COMMANDS, xmlns.DATA)

register_stanza_plugin(Iq, DiscoInfo)
register_stanza_plugin(Iq, DiscoItems)
register_stanza_plugin(Iq, Version)
register_stanza_plugin(Iq, Ping)


class Disco:
    def __init__(self, service: "Service") -> None:
        self.service = service
        # Lowest priority: plugins answering for their own JIDs and nodes go first.
        service.on_iq(f"{{{DISCO_INFO}}}query", self._info, types=("get",), priority=-1000)
        service.on_iq(f"{{{DISCO_ITEMS}}}query", self._items, types=("get",), priority=-1000)
        service.on_iq(f"{{{PING}}}ping", self._ping, types=("get",), priority=-1000)
        service.on_iq(f"{{{VERSION}}}query", self._version, types=("get",), priority=-1000)
        for itype in ("set",):
            for tag in (f"{{{DISCO_INFO}}}query", f"{{{DISCO_ITEMS}}}query", f"{{{VERSION}}}query"):
                service.hooks.on(f"iq:{itype}:{tag}", self._not_settable, -1000)

    def _is_domain(self, iq: Iq) -> bool:
        return iq["to"].full == self.service.domain

    def identities(self) -> list[tuple[str, str, str]]:
        found = [identity for plugin in self.service.plugins.values() for identity in type(plugin).identities]
        if not found:
            found = [("component", "generic", self.service.config.name or "Switchboard")]
        return found

    def features(self) -> list[str]:
        features = list(CORE_FEATURES)
        for plugin in self.service.plugins.values():
            features.extend(f for f in type(plugin).features if f not in features)
        return features

    async def _info(self, iq: Iq) -> Any:
        if not self._is_domain(iq):
            return None
        node = iq["disco_info"]["node"]
        reply = iq.reply()
        info = reply["disco_info"]
        if node:
            info["node"] = node
            answered = await self.service.hooks.fire("disco.node_info", iq, info)
            if answered is None and not await self.service.commands.node_info(iq, info):
                raise StanzaError("item-not-found", f"no such node: {node}")
            return reply
        for category, itype, name in self.identities():
            info.add_identity(category, itype, name=name or None)
        for feature in self.features():
            info.add_feature(feature)
        for form in await self.service.hooks.collect("disco.info_forms", iq):
            info.append(form)
        return reply

    async def _items(self, iq: Iq) -> Any:
        if not self._is_domain(iq):
            return None
        node = iq["disco_items"]["node"]
        reply = iq.reply()
        items = reply["disco_items"]
        if node == COMMANDS:
            items["node"] = node
            for command in await self.service.commands.visible_to(iq["from"]):
                items.add_item(self.service.jid, node=command.node, name=command.title(iq["lang"]))
            return reply
        if node:
            items["node"] = node
        found = await self.service.hooks.collect("disco.items", iq)
        if node and not found:
            raise StanzaError("item-not-found", f"no such node: {node}")
        for batch in found:
            for jid, item_node, name in batch:
                items.add_item(jid, node=item_node, name=name)
        return reply

    async def _ping(self, iq: Iq) -> Any:
        if not self._is_domain(iq):
            return None
        return iq.reply()

    async def _version(self, iq: Iq) -> Any:
        if not self._is_domain(iq):
            return None
        reply = iq.reply()
        reply["software_version"]["name"] = "Switchboard"
        reply["software_version"]["version"] = __version__
        reply["software_version"]["os"] = platform.system()
        return reply

    async def _not_settable(self, iq: Iq) -> Any:
        raise StanzaError("bad-request", "this query can only be read (type get)")
