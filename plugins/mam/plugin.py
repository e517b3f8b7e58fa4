"""Wiring of the archive: MAM IQs (XEP-0313) -> archive service -> results; hooks; retention.

Queries go to bare JIDs of the service (rooms, conversations). Which archive a
JID has, and who may read it, is answered by the plugin owning the JID through
the ``mam.access`` hook; full JIDs (occupants) are never ours.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from slixmpp import Iq

from component.config import ConfigError, doc
from component.errors import StanzaError
from component.plugin import Plugin
from component.storage import create_tables

from . import stanza as wire
from .hooks import ACCESS, RECALL_RETRACTED, SERVICE, AccessRequest, ArchiveAccess
from .service import HARD_MAX_PAGE_SIZE, ArchiveService
from .store import ArchiveStore


@dataclass
class MamOptions:
    max_page_size: int = doc(
        f"Results per page when a query gives no RSM <max/>, and the most it may ask for "
        f"(1 to {HARD_MAX_PAGE_SIZE}).", 50)
    retention_days: int = doc(
        "Delete messages older than this many days (0 = keep forever). An archive's own policy, "
        "set through the archive service, overrides it.", 0)
    max_messages: int = doc(
        "Keep at most this many messages per archive, dropping the oldest (0 = no limit). "
        "An archive's own policy overrides it.", 0)
    retention_interval: int = doc("Seconds between two retention runs (0 = only on demand).", 3600)
    batch_max: int = doc("Most messages written in one database transaction (group commit).", 500)
    delete_with_room: bool = doc(
        "Delete a room's archive when the room is destroyed (a temporary room: when its last occupant leaves).",
        True)

    def __post_init__(self) -> None:
        checks = {
            "max_page_size": 1 <= self.max_page_size <= HARD_MAX_PAGE_SIZE,
            "retention_days": self.retention_days >= 0,
            "max_messages": self.max_messages >= 0,
            "retention_interval": self.retention_interval >= 0,
            "batch_max": self.batch_max >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError("<config>", f"plugins.mam.{name}",
                                  f"out of range: {getattr(self, name)!r}")


class MamPlugin(Plugin):
    name = "mam"
    shares_domain = True  # see docs/scaling.md
    optional_depends = ("muc",)
    Options = MamOptions
    features = (wire.NS, wire.NS_EXTENDED)
    migrations = (create_tables("mam_messages", "mam_archives"),)

    def _measure_writes(self) -> None:
        written = self.metrics.counter("archive_writes", "Messages written to the archive.", ["domain"])
        sizes = self.metrics.histogram("archive_batch_size", "Messages per archive commit (group commit).",
                                       ["domain"], buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))
        # The archive writes through connections of its own, not the engine the core times.
        commits = self.metrics.histogram("archive_commit_seconds", "Time to commit one archive batch.", ["domain"])
        domain = self.service.domain
        written_here, sizes_here, commit_here = written.labels(domain), sizes.labels(domain), commits.labels(domain)

        def on_batch(count: int, seconds: float) -> None:
            written_here.inc(count)
            sizes_here.observe(count)
            commit_here.observe(seconds)

        self.archive._writer.on_batch = on_batch

    async def setup(self) -> None:
        options: MamOptions = self.options
        self.archive = ArchiveService(ArchiveStore(self.db), self.service.domain,
                                      max_page_size=options.max_page_size,
                                      retention_days=options.retention_days,
                                      max_messages=options.max_messages, batch_max=options.batch_max)
        self.hooks.provide(SERVICE, self.archive)
        self._measure_writes()
        self.service.on_iq(wire.QUERY, self.on_query_form, types=("get",))
        self.service.on_iq(wire.QUERY, self.on_query, types=("set",))
        self.service.on_iq(wire.METADATA, self.on_metadata, types=("get",))
        self.service.on_iq(wire.METADATA, self.on_metadata_set, types=("set",))
        self.hooks.on(RECALL_RETRACTED, self.on_retracted)
        self.bridge = None
        if self.hooks.service("muc", None) is not None:
            from .muc_bridge import MucBridge
            self.bridge = MucBridge(self)
            self.bridge.setup()
        self._retention: asyncio.Task[None] | None = None
        if options.retention_interval:
            self._retention = asyncio.ensure_future(self._retention_loop(options.retention_interval))

    async def stop(self) -> None:
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
        await self.archive.close()

    async def _retention_loop(self, interval: int) -> None:
        await asyncio.sleep(min(interval, 60))
        while True:
            try:
                await self.archive.apply_retention()
            except Exception:  # noqa: BLE001 - try again next time
                self.log.exception("retention run failed", extra={"domain": self.service.domain})
            await asyncio.sleep(interval)

    # -- access -----------------------------------------------------------
    async def _access(self, iq: Iq) -> ArchiveAccess:
        target = iq["to"]
        access = await self.hooks.fire(ACCESS, AccessRequest(to=target.bare, requester=iq["from"]))
        if access is None:
            if target.user:
                raise StanzaError("item-not-found", f"there is no archive at {target.bare}")
            raise StanzaError("service-unavailable",
                              "the service domain keeps no archive of its own; query a room or conversation")
        if not access.allowed:
            raise StanzaError("forbidden", access.reason or "you may not read this archive")
        return access

    # -- IQ handlers ------------------------------------------------------
    async def on_query_form(self, iq: Iq) -> Any:
        if iq["to"].resource:
            return None  # an occupant's JID: not an archive
        await self._access(iq)
        reply = iq.reply()
        reply.xml.append(wire.query_form())
        return reply

    async def on_query(self, iq: Iq) -> Any:
        if iq["to"].resource:
            return None
        access = await self._access(iq)
        spec = wire.parse_query(iq.xml.find(wire.QUERY))
        page = await self.archive.query(access.archive, spec, real_jids=access.real_jids)
        requester = iq["from"].full
        sender = iq["to"].bare
        records = list(reversed(page.records)) if spec.flip else page.records
        parts = []
        for record in records:
            xml = record.stanza
            if access.real_jids and record.author and record.kind == "groupchat":
                xml = wire.with_real_jid(xml, record.author)
            parts.append(wire.result_message(requester, sender, spec.queryid, record.stanza_id,
                                             record.timestamp, xml))
        # All results in one write, ahead of the IQ result that closes the query.
        if parts:
            self.service.send_raw("".join(parts), count=len(parts))
        reply = iq.reply()
        # Pages fetched backwards carry no index: slixmpp's RSM iterator (1.17) stops
        # as soon as index + page size == count, which a backward pager reaches on
        # its very first (last) page. The index is optional (XEP-0313 section 4.3.2).
        first_index = None if spec.before is not None else page.first_index
        reply.xml.append(wire.fin(page.complete, page.first, page.last, page.count, first_index))
        self.log.debug("mam query", extra={"archive": access.archive, "results": len(parts),
                                           "complete": page.complete})
        return reply

    async def on_metadata(self, iq: Iq) -> Any:
        if iq["to"].resource:
            return None
        access = await self._access(iq)
        first, last = await self.archive.bounds(access.archive)
        reply = iq.reply()
        reply.xml.append(wire.metadata((first.stanza_id, first.timestamp) if first else None,
                                       (last.stanza_id, last.timestamp) if last else None))
        return reply

    async def on_metadata_set(self, iq: Iq) -> Any:
        if iq["to"].resource:
            return None
        raise StanzaError("bad-request", "archive metadata is read with an IQ of type get")

    # -- events -----------------------------------------------------------
    async def on_retracted(self, event: Any) -> Any:
        legacy = getattr(event, "legacy", None)
        also = [legacy] if legacy is not None else []
        original = await self.archive.get(event.archive, event.stanza_id)
        done = await self.archive.tombstone(event.archive, event.stanza_id, event.tombstone, *also)
        if done and original is not None:
            # Its corrections carry its text and reactions point at it: they go with it.
            await self.archive.tombstone_related(original, event.tombstone, *also)
        return True if done else None
