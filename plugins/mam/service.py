"""The archive service: storing, paging, tombstoning and expiring archived messages.

Published as ``hooks.provide("archive", ArchiveService)`` and used by the MAM
IQ handler, the MUC bridge, recall, support and admin. No stanzas travel here;
messages come in as elements or XML text and go out as stored XML text.

Writes are group-committed: every caller's ``store()`` joins the next batch
and returns only once that batch is committed, so a message is durable before
anyone can see it, and a burst of messages costs one transaction, not one each.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Sequence
from xml.etree.ElementTree import Element

from component.errors import StanzaError

from . import related, stanza as wire
from .group_commit import GroupCommit
from .hooks import ArchiveRecord, QuerySpec
from .ids import ARCHIVE_ID, id_at, lower_id, upper_id
from .store import ArchiveStore
from .tables import Filters, SqlReader

log = logging.getLogger("switchboard.plugins.mam")

__all__ = ["ArchiveService", "Page", "HARD_MAX_PAGE_SIZE", "HISTORY_HARD_MAX", "id_at", "lower_id", "upper_id"]

#: Largest page anyone may configure.
HARD_MAX_PAGE_SIZE = 500
#: Largest number of messages history on join returns.
HISTORY_HARD_MAX = 1000
#: The RSM first index is given when counting up to this many index entries finds it.
INDEX_COUNT_LIMIT = 5000

@dataclass
class Page:
    records: list[ArchiveRecord]  #: chronological; ``stanza`` is stored XML text
    complete: bool                #: nothing further in the paging direction
    count: int                    #: size of the whole result set (RSM <count/>)
    first_index: int | None       #: position of the first record in it, when cheap to know

    @property
    def first(self) -> str | None:
        return self.records[0].stanza_id if self.records else None

    @property
    def last(self) -> str | None:
        return self.records[-1].stanza_id if self.records else None


def _record(row: Any, parse: bool = False) -> ArchiveRecord:
    (stanza_id, timestamp, xml, author, with_jid, occupant_id, origin_id, client_id, kind, retracted,
     archive) = row
    return ArchiveRecord(archive=archive, stanza_id=stanza_id, timestamp=timestamp,
                         stanza=wire.parse(xml) if parse else xml, author=author, with_jid=with_jid,
                         occupant_id=occupant_id, origin_id=origin_id, client_id=client_id, kind=kind,
                         retracted=bool(retracted))


class ArchiveService:
    """The public archive service (``hooks.service("archive")``)."""

    def __init__(self, store: ArchiveStore, domain: str = "", *, max_page_size: int = 50,
                 retention_days: int = 0, max_messages: int = 0, batch_max: int = 500) -> None:
        self.backend = store
        self.domain = domain
        self.max_page_size = max_page_size
        self.retention_days = retention_days
        self.max_messages = max_messages
        self._writer = GroupCommit(store, batch_max)

    # -- writing ----------------------------------------------------------
    @staticmethod
    def _row(record: ArchiveRecord) -> dict[str, Any]:
        if not record.archive or "/" in record.archive:
            raise ValueError(f"an archive is a bare JID, not {record.archive!r}")
        if record.kind not in ("groupchat", "chat"):
            raise ValueError(f"kind is 'groupchat' or 'chat', not {record.kind!r}")
        # Time-ordered ids are what make paging and time filters index range scans.
        if not ARCHIVE_ID.fullmatch(record.stanza_id):
            raise ValueError(f"archive ids come from component.ids.new_id(), not {record.stanza_id!r}")
        return {
            "archive": record.archive, "stanza_id": record.stanza_id, "timestamp": float(record.timestamp),
            "stanza": wire.sanitize(record.stanza, record.kind), "author": record.author,
            "with_jid": record.with_jid, "with_bare": record.with_jid.partition("/")[0],
            "occupant_id": record.occupant_id, "origin_id": record.origin_id, "client_id": record.client_id,
            "kind": record.kind, "retracted": record.retracted,
        }

    async def store(self, record: ArchiveRecord) -> None:
        """Archive one message; committed when this returns, raises on failure."""
        await self._writer.write([self._row(record)])

    async def store_many(self, records: list[ArchiveRecord]) -> None:
        """Archive several messages atomically (all or none)."""
        rows = [self._row(record) for record in records]
        if rows:
            await self._writer.write(rows)

    async def close(self) -> None:
        """Wait for the writes in flight, then release the writer."""
        await self._writer.drain()
        await self.backend.close()

    # -- single messages --------------------------------------------------
    async def get(self, archive: str, stanza_id: str) -> ArchiveRecord | None:
        """The archived message (its ``stanza`` parsed to an Element), or None."""
        row = await self.backend.get(archive, stanza_id)
        return _record(row, parse=True) if row else None

    async def find_by_origin_id(self, archive: str, author: str | None, origin_id: str) -> ArchiveRecord | None:
        """The newest message of ``author`` (None: of anyone) in ``archive`` carrying this XEP-0359 origin-id."""
        if not origin_id:
            return None
        row = await self.backend.find_by_origin_id(archive, author, origin_id)
        return _record(row, parse=True) if row else None

    async def tombstone(self, archive: str, stanza_id: str, tombstone: Element, *also: Element) -> bool:
        """Delete a message's content for good: only ``tombstone`` (and ``also``, e.g. its older
        form) is kept, in an envelope with the original's from/to/type/id. False when the id is unknown."""
        row = await self.backend.get(archive, stanza_id)
        if row is None:
            return False
        replaced = await self.backend.replace_stanza(archive, stanza_id,
                                                     wire.envelope(row[2], tombstone, *also))
        if replaced:
            log.info("message tombstoned", extra={"archive": archive, "stanza_id": stanza_id})
        return replaced

    async def tombstone_related(self, original: ArchiveRecord, tombstone: Element, *also: Element) -> int:
        """Corrections and reactions of a retracted message go with it (see :mod:`.related`)."""
        rows = await self.backend.referring(original.archive, original.stanza_id, related.MARKERS)
        done = 0
        for stanza_id, content in related.replacements(original, [_record(r, parse=True) for r in rows],
                                                       [tombstone, *also]):
            row = await self.backend.get(original.archive, stanza_id)
            if row is not None and await self.backend.replace_stanza(original.archive, stanza_id,
                                                                     wire.envelope(row[2], *content)):
                done += 1
        if done:
            log.info("related messages removed", extra={"archive": original.archive,
                                                         "stanza_id": original.stanza_id, "count": done})
        return done

    async def compact(self) -> None:
        """Make removed content unreachable in the database files where the engine keeps old
        row versions (PostgreSQL: VACUUM); called after retractions."""
        await self.backend.vacuum()

    # -- reading ----------------------------------------------------------
    async def count(self, archive: str) -> int:
        return await self.backend.archive_count(archive)

    async def bounds(self, archive: str) -> tuple[ArchiveRecord | None, ArchiveRecord | None]:
        """The first and last archived messages (stanza as stored XML text)."""
        first, last = await self.backend.bounds(archive)
        return (_record(first) if first else None, _record(last) if last else None)

    async def history(self, archive: str, *, maxstanzas: int | None, maxchars: int | None = None,
                      since: float | None = None, seconds: int | None = None,
                      namespace: str = wire.NS_CLIENT, until: float | None = None) -> list[tuple[Element, float]]:
        """Recent messages for history on join, oldest first (XEP-0045 section 7.2.15 limits); with
        ``until``, only those archived at or before it.

        ``namespace`` is the one the returned message elements (and their
        stream-level children) get, e.g. the component stream's.
        """
        limit = HISTORY_HARD_MAX if maxstanzas is None else min(max(maxstanzas, 0), HISTORY_HARD_MAX)
        if limit == 0 or maxchars == 0:
            return []
        floor: float | None = since
        if seconds is not None:
            recent = time.time() - max(seconds, 0)
            floor = recent if floor is None else max(floor, recent)
        rows = await self.backend.newest(archive, limit, lower_id(floor) if floor is not None else None,
                                         upper_id(until) if until is not None else None)
        picked = []
        used = 0
        for row in rows:  # newest first
            if maxchars is not None:
                used += len(row[2])
                if used > maxchars:
                    break
            picked.append(row)
        result = []
        for row in reversed(picked):
            element = wire.parse(row[2])
            if namespace != wire.NS_CLIENT:
                _renamespace(element, namespace)
            result.append((element, row[1]))
        return result

    async def query(self, archive: str, spec: QuerySpec, *, real_jids: bool = False,
                    page_size: int | None = None) -> Page:
        """Run a MAM query; unknown ids raise item-not-found (XEP-0313 section 4.1.3)."""
        cap = min(page_size or self.max_page_size, HARD_MAX_PAGE_SIZE)
        limit = cap if spec.max is None else min(spec.max, cap)
        filters = Filters(archive)
        uppers = []
        if spec.after_id is not None:
            filters.lower = spec.after_id
        if spec.start is not None:
            filters.lower_incl = lower_id(spec.start)
        if spec.before_id is not None:
            uppers.append(spec.before_id)
        if spec.end is not None:
            uppers.append(upper_id(spec.end))
        if uppers:
            filters.upper = min(uppers)
        if spec.with_jid is not None:
            if "/" in spec.with_jid:
                filters.with_full = spec.with_jid
            else:
                filters.with_bare = spec.with_jid
                if real_jids:  # the author's real JID is only a filter for those who may see it
                    filters.author = spec.with_jid
        if spec.ids is not None:
            filters.ids = spec.ids
        backward = spec.before is not None
        cursor_lower = spec.after
        cursor_upper = spec.before or None
        referenced = [i for i in (spec.after_id, spec.before_id, spec.after, cursor_upper) if i is not None]
        referenced += spec.ids or []

        def run(reader: SqlReader) -> Page | str:
            if referenced:
                missing = reader.missing_ids(archive, referenced)
                if missing:
                    return missing[0]
            count = reader.count(filters) if filters.narrows else reader.archive_count(archive)
            if limit == 0:
                return Page([], count == 0, count, None)
            rows = reader.page(filters, limit + 1, backward=backward, offset=spec.index or 0,
                               lower=cursor_lower, upper=cursor_upper)
            complete = len(rows) <= limit
            rows = rows[:limit]
            if backward:
                rows.reverse()
            first_index = _first_index(reader, filters, spec, rows, count, backward)
            return Page([_record(row) for row in rows], complete, count, first_index)

        # One read transaction: the count, the page and the index agree.
        result = await self.backend.read(run)
        if isinstance(result, str):
            raise StanzaError("item-not-found", f"no message with id {result} in this archive")
        return result

    # -- deleting ---------------------------------------------------------
    async def purge(self, archive: str, *, before: float | None = None, author: str | None = None) -> int:
        """Delete messages (all, those older than ``before``, and/or by ``author``); returns how many."""
        removed = await self.backend.delete_range(archive, before_id=lower_id(before) if before is not None else None,
                                                author=author)
        log.info("archive purged", extra={"archive": archive, "removed": removed})
        return removed

    async def delete_archive(self, archive: str) -> int:
        """Delete an archive with its policy; returns how many messages it held."""
        removed = await self.backend.delete_range(archive)
        await self.backend.forget_archive(archive)
        log.info("archive deleted", extra={"archive": archive, "removed": removed})
        return removed

    # -- retention --------------------------------------------------------
    async def set_policy(self, archive: str, *, retention_days: int | None = None,
                         max_messages: int | None = None) -> None:
        """An archive's own retention (None = the service default, 0 = keep forever)."""
        for name, value in (("retention_days", retention_days), ("max_messages", max_messages)):
            if value is not None and value < 0:
                raise ValueError(f"{name} cannot be negative")
        await self.backend.set_policy(archive, retention_days, max_messages)

    async def policy(self, archive: str) -> tuple[int, int]:
        """The effective (retention_days, max_messages) of an archive; 0 = no limit."""
        days, most = await self.backend.policy(archive)
        return (self.retention_days if days is None else days, self.max_messages if most is None else most)

    async def apply_retention(self, archive: str | None = None, now: float | None = None) -> int:
        """Expire old messages (oldest first, never holes) of one archive or of every archive
        of this service's domain; returns how many were removed."""
        now = time.time() if now is None else now
        if archive is not None:
            days, most = await self.backend.policy(archive)
            policies: Sequence[tuple[str, int | None, int | None]] = [(archive, days, most)]
        else:
            policies = await self.backend.policies(self.domain)
        removed = 0
        for name, days, most in policies:
            days = self.retention_days if days is None else days
            most = self.max_messages if most is None else most
            if days:
                removed += await self.backend.delete_range(name, before_id=lower_id(now - days * 86400))
            if most:
                boundary = await self.backend.nth_newest(name, most)
                if boundary is not None:
                    removed += await self.backend.delete_range(name, upto_id=boundary)
        if removed:
            log.info("retention applied", extra={"domain": self.domain, "removed": removed})
        return removed


def _first_index(reader: SqlReader, filters: Filters, spec: QuerySpec, rows: list[Any], count: int,
                 backward: bool) -> int | None:
    """Where the page starts in the whole result set (RSM index), when cheap to know."""
    if not rows:
        return None
    if not backward and spec.after is None:
        return spec.index or 0
    if backward and spec.before == "":
        return count - len(rows)
    # Somewhere in the middle: count the nearer side, but never walk far.
    before = reader.count(filters, upper=rows[0][0], at_most=INDEX_COUNT_LIMIT)
    if before < INDEX_COUNT_LIMIT:
        return before
    after = reader.count(filters, lower=rows[-1][0], at_most=INDEX_COUNT_LIMIT)
    if after < INDEX_COUNT_LIMIT:
        return count - after - len(rows)
    return None


def _renamespace(element: Element, namespace: str) -> None:
    """Move a stanza and its stream-level children from jabber:client to ``namespace``."""
    prefix = f"{{{wire.NS_CLIENT}}}"
    # Only the stanza level: a forwarded message inside keeps jabber:client.
    for node in (element, *element):
        if node.tag.startswith(prefix):
            node.tag = f"{{{namespace}}}" + node.tag[len(prefix):]
