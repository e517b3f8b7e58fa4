"""The admin plugin's contract with other plugins: the events it fires and answers.

``admin.rights`` (:class:`component.adhoc.RightsQuery`) — collect
    Lives in the core so that it works without this plugin. Handlers grant
    scoped rights: for ``kind == "room"`` this plugin answers with the rooms
    the requester owns; the support plugin answers ``"queue"`` with the queues
    the requester supervises. Commands declare ``scope = "room"`` and call
    ``await ctx.scope("room")`` to filter what they show and accept.

``admin.stats`` (:class:`StatsRequest`) — collect, on every service's bus
    Plugins add figures to the service statistics. A handler returns a
    ``dict`` of ``{var: value}`` or a list of :class:`Stat`. Well-known vars
    (labelled by the admin plugin): ``queued_customers``, ``active_conversations``,
    ``agents_online``. Where several processes share the domain (docs/scaling.md) the
    statistics show these figures as the answering process reports them, not summed over
    the processes: report the whole domain's (read as stored), as the support plugin does.

``admin.reconfigure`` (:class:`Reconfigure`) — fire, on the plugin's service bus
    A configuration reload changed the options of ``plugin``. The plugin
    returns ``True`` when it applied ``options`` live (it keeps them itself);
    nobody answering means the change takes effect at the next restart.

``admin.config_reloaded`` (:class:`ConfigReloaded`) — collect, on every service's bus
    After a reload was applied (notification; results ignored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from component.adhoc import RIGHTS, RightsQuery, Scope

STATS = "admin.stats"
RECONFIGURE = "admin.reconfigure"
CONFIG_RELOADED = "admin.config_reloaded"

__all__ = ["RIGHTS", "RightsQuery", "Scope", "STATS", "RECONFIGURE", "CONFIG_RELOADED",
           "StatsRequest", "Stat", "Reconfigure", "ConfigReloaded"]


@dataclass
class StatsRequest:
    domain: str             #: the service whose bus is asked
    lang: str = "en"


@dataclass
class Stat:
    var: str
    value: Any
    label: str = ""         #: English label (the var when empty)
    label_zh: str = ""


@dataclass
class Reconfigure:
    plugin: str             #: plugin name
    options: Any            #: the new options (the plugin's Options dataclass, validated)
    previous: Any           #: the options it runs with now


@dataclass
class ConfigReloaded:
    source: str             #: the file read
    applied: list[str] = field(default_factory=list)          #: what changed live
    restart_needed: list[str] = field(default_factory=list)   #: what waits for a restart
