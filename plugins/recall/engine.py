"""The recall operations over the archive: find the original, decide, tombstone, audit.

Published as ``hooks.service("recall")`` so that rooms (this plugin's own
wiring) and 1:1 conversations (the support queue) share one implementation.
The archive is reached only through its public service (``hooks.service("archive")``)
and the ``recall.retracted`` event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from component.errors import StanzaError
from component.hooks import HookBus

from . import stanza
from .hooks import RETRACTED, Retracted
from .service import Actor, Target, check_moderate, check_retract, effective_window, text
from .store import RecallStore

log = logging.getLogger("switchboard.plugins.recall")


@dataclass
class Removal:
    """A retraction or moderation that was carried out."""

    record: Any             #: the archive's record of the original (as it was before the tombstone)
    tombstone: Element      #: what replaced it in the archive
    by: str                 #: real bare JID of who removed it
    moderated: bool
    reason: str = ""
    legacy: Element | None = None  #: the tombstone's older form, stored alongside

    def retract_payload(self, target_id: str, fallback_text: str = "", lang: str = "") -> list[Element]:
        """Elements of a retraction message telling the other side (1:1 relays).

        ``target_id`` is the id the receiving side knows the message by (in a
        relay, the id the relayed copy was sent with).
        """
        return stanza.build_retract(target_id, fallback_text, lang)


class Recall:
    """Retraction and moderation against the archive; one per service."""

    def __init__(self, hooks: HookBus, store: RecallStore, window_seconds: int,
                 room_windows: dict[str, int | None] | None = None, checkpoint: bool = True) -> None:
        self.hooks = hooks
        self.store = store
        self.window_seconds = window_seconds
        self.room_windows: dict[str, int | None] = dict(room_windows or {})
        self.checkpoint_enabled = checkpoint
        # One removal at a time: check-then-tombstone must not race with itself.
        self._lock = asyncio.Lock()
        self._checkpoint: asyncio.Task | None = None
        self._checkpoint_again = False

    # -- lookups ------------------------------------------------------------
    @property
    def archive(self) -> Any:
        return self.hooks.service("archive")

    def window_for(self, room: str | None) -> int | None:
        """Seconds a participant has to retract in ``room`` (None: no limit)."""
        return effective_window(self.window_seconds, self.room_windows.get(room) if room else None)

    async def set_room_window(self, room: str, seconds: int | None) -> None:
        await self.store.set_room_window(room, seconds)
        if seconds is None:
            self.room_windows.pop(room, None)
        else:
            self.room_windows[room] = seconds

    async def forget_room(self, room: str) -> None:
        await self.store.forget_room(room)
        self.room_windows.pop(room, None)

    async def find(self, archive: str, target_id: str, author: str = "") -> Any:
        """The archived original by archive id, else by the author's origin-id."""
        record = await self.archive.get(archive, target_id)
        if record is None and author:
            record = await self.archive.find_by_origin_id(archive, author, target_id)
        return record

    @staticmethod
    def target_of(record: Any) -> Target | None:
        if record is None:
            return None
        return Target(stanza_id=record.stanza_id, author=record.author or "",
                      occupant_id=record.occupant_id or "", timestamp=record.timestamp,
                      retracted=bool(record.retracted), is_retraction=stanza.is_retraction(record.stanza))

    # -- operations ---------------------------------------------------------
    async def retract_own(self, archive: str, target_id: str, actor: Actor, *, window: int | None,
                          retraction_id: str = "", tombstone_id: str = "", kind: str = "groupchat",
                          lang: str | None = "en", now: float | None = None) -> Removal:
        """The author retracts its own message (XEP-0424); raises StanzaError when refused.

        ``tombstone_id`` is the 'id' of the retraction message, put on the tombstone
        so clients can pair them; ``retraction_id`` its archive id when archived.
        """
        now = time.time() if now is None else now
        async with self._lock:
            record = await self.find(archive, target_id, actor.bare_jid)
            check_retract(self.target_of(record), actor, window, now, lang)
            tombstone = stanza.build_tombstone(now, tombstone_id)
            removal = Removal(record, tombstone, actor.bare_jid, moderated=False,
                              legacy=stanza.build_legacy_tombstone(now))
            await self._apply(removal, retraction_id, kind, now, lang)
        return removal

    async def moderate(self, archive: str, stanza_id: str, actor: Actor, *, by: str, moderator_occupant_id: str = "",
                       reason: str = "", kind: str = "groupchat", lang: str | None = "en",
                       now: float | None = None) -> Removal:
        """A moderator removes someone's message (XEP-0425); raises StanzaError when refused.

        ``by`` is what the tombstone names as the moderator (room/nick in rooms).
        """
        now = time.time() if now is None else now
        async with self._lock:
            record = await self.archive.get(archive, stanza_id) if actor.moderator else None
            check_moderate(self.target_of(record), actor, lang)
            tombstone = stanza.build_tombstone(now, moderated_by=by, moderator_occupant_id=moderator_occupant_id,
                                               reason=reason)
            removal = Removal(record, tombstone, actor.bare_jid, moderated=True, reason=reason,
                              legacy=stanza.build_legacy_tombstone(now, moderated_by=by, reason=reason))
            await self._apply(removal, "", kind, now, lang)
        return removal

    async def retract_direct(self, archive: str, target_id: str, requester: str, *, retraction_id: str = "",
                             tombstone_id: str = "", window: int | None = -1, lang: str | None = "en",
                             now: float | None = None) -> Removal:
        """1:1 conversations: ``requester`` (real bare JID) retracts its own message.

        ``target_id`` is the archive id or the sender's origin-id (archived
        1:1 messages keep the message 'id' there when they carry no origin-id).
        ``retraction_id`` is the retraction message's 'id': the tombstone
        carries it (``tombstone_id`` overrides) and the audit records it.
        ``window`` defaults to the service's option (-1); None or 0 means no
        limit. Raises StanzaError to refuse; the caller then relays the
        retraction (e.g. :meth:`Removal.retract_payload`) to the other side.
        """
        if window == -1:
            window = self.window_for(None)
        return await self.retract_own(archive, target_id, Actor(bare_jid=requester), window=window or None,
                                      retraction_id=retraction_id, tombstone_id=tombstone_id or retraction_id,
                                      kind="chat", lang=lang, now=now)

    async def moderate_direct(self, archive: str, stanza_id: str, moderator: str, *, reason: str = "",
                              by: str = "", lang: str | None = "en", now: float | None = None) -> Removal:
        """1:1 conversations: remove a message on the authority of the caller (e.g. a supervisor).

        The caller has decided that ``moderator`` may do so.
        """
        return await self.moderate(archive, stanza_id, Actor(bare_jid=moderator, moderator=True), by=by,
                                   reason=reason, kind="chat", lang=lang, now=now)

    async def _apply(self, removal: Removal, retraction_id: str, kind: str, now: float, lang: str | None) -> None:
        record = removal.record
        event = Retracted(archive=record.archive, stanza_id=record.stanza_id, tombstone=removal.tombstone,
                          by=removal.by, moderated=removal.moderated, reason=removal.reason,
                          retraction_id=retraction_id, author=record.author or "", kind=kind, timestamp=now,
                          legacy=removal.legacy)
        extra = [removal.legacy] if removal.legacy is not None else []
        done = await self.hooks.fire(RETRACTED, event)
        if done is None and not await self.archive.tombstone(record.archive, record.stanza_id, removal.tombstone,
                                                             *extra):
            raise StanzaError("item-not-found", text("unknown", lang))
        await self.store.audit(at=now, archive=record.archive, stanza_id=record.stanza_id, actor=removal.by,
                               author=record.author or "", moderated=removal.moderated, reason=removal.reason,
                               kind=kind, retraction_id=retraction_id)
        log.info("message removed", extra={"archive": record.archive, "stanza_id": record.stanza_id,
                                           "moderated": removal.moderated})
        self._schedule_checkpoint()

    async def audit_unarchived(self, archive: str, stanza_id: str, actor: str, *, author: str | None = "",
                               moderated: bool = False, reason: str = "", retraction_id: str = "",
                               now: float | None = None) -> None:
        """Record a removal in a room that does not archive (nothing to tombstone, still audited)."""
        now = time.time() if now is None else now
        await self.store.audit(at=now, archive=archive, stanza_id=stanza_id, actor=actor, author=author or "",
                               moderated=moderated, reason=reason, kind="groupchat", retraction_id=retraction_id)
        log.info("message removed", extra={"archive": archive, "stanza_id": stanza_id, "moderated": moderated,
                                           "archived": False})

    # -- storage hygiene ----------------------------------------------------
    def _schedule_checkpoint(self) -> None:
        if not self.checkpoint_enabled:
            return
        if self._checkpoint is not None and not self._checkpoint.done():
            self._checkpoint_again = True
            return
        self._checkpoint = asyncio.ensure_future(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        # Readers can hold the WAL for a moment; retry a few times, then leave
        # it to the next removal or SQLite's own checkpoints.
        for attempt in range(5):
            self._checkpoint_again = False
            try:
                complete = await self.store.checkpoint()
                compact = getattr(self.archive, "compact", None)
                if compact is not None:
                    await compact()  # PostgreSQL: the tombstoned rows' old versions
            except Exception:  # noqa: BLE001 - hygiene must never break a retraction
                log.exception("storage hygiene after a removal failed")
                return
            if complete and not self._checkpoint_again:
                return
            await asyncio.sleep(0.05 * (attempt + 1))
        log.warning("WAL checkpoint did not complete; removed text may linger in the WAL until the next one")

    async def flush(self) -> None:
        """Wait for pending storage hygiene (tests, shutdown)."""
        while self._checkpoint is not None and not self._checkpoint.done():
            await asyncio.shield(self._checkpoint)
