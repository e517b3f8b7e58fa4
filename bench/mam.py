"""MAM: last page and a deep page of big room archives, ours vs Prosody's mod_muc_mam on SQL.

Each archive is seeded with one real message sent through each server (so the
stored form is exactly what each server writes), then bulk-filled from that
template while both servers are stopped:

* ours through the archive plugin's own store (``ArchiveStore.insert``: the
  same schema, the same per-archive counter the plugin maintains), in
  transactions of 20,000 rows;
* Prosody's straight into its ``prosodyarchive`` table (what ``mod_storage_sql``
  writes for ``archive:append``: host, user, store ``muc_log``, key, when,
  with ``message<groupchat``, type ``xml``, value).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from typing import Any, Callable

from component.ids import new_id

from .rawxmpp import RawClient
from .stack import NATIVE, ROOMS, ComponentProcess, Stack
from .stats import median, percentile, ratio

MAM_NS = "urn:xmpp:mam:2"
RSM_NS = "http://jabber.org/protocol/rsm"
PAGE = 20
CHUNK = 20_000


def label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def seed_rooms(stack: Stack, sizes: list[int], prefix: str = "mam",
               sides: tuple[str, ...] = (NATIVE, ROOMS)) -> list[str]:
    """Create one persistent room per size on both sides, each with one real archived message."""
    client = RawClient(stack.c2s, "mamseed", "bench-password", "seed").login(register=True)
    rooms = []
    try:
        for n in sizes:
            local = f"{prefix}{label(n)}"
            rooms.append(local)
            for domain in sides:
                room = f"{local}@{domain}"
                client.join(room, "seed")
                client.make_persistent(room, iq_id=f"cfg-{local}-{domain}")
                client.send(f"<message to='{room}' type='groupchat' id='seed1'>"
                            "<body>B template message of a reasonable length for a chat room</body></message>")
                # The reflection means the message went through (ours archives before broadcasting).
                client.read_until(b"B template message")
                client.leave(room, "seed")
    finally:
        client.close()
    return rooms


def fill_native(sql_path: str, room: str, total: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """Fill Prosody's archive of `room` (local part) up to `total` rows; returns the fill stats and ids."""
    db = sqlite3.connect(sql_path)
    try:
        row = db.execute('SELECT "host","with","type","value","when" FROM prosodyarchive '
                         'WHERE "user"=? AND "store"=? ORDER BY sort_id DESC LIMIT 1', (room, "muc_log")).fetchone()
        if row is None:
            raise RuntimeError(f"Prosody archived nothing for {room}: is mod_muc_mam logging the room?")
        host, with_, type_, value, _when = row
        have = db.execute('SELECT COUNT(*) FROM prosodyarchive WHERE "host"=? AND "user"=? AND "store"=?',
                          (host, room, "muc_log")).fetchone()[0]
        need = total - have
        marker = "B template message"
        if marker not in value:
            raise RuntimeError(f"unexpected stored form in Prosody's archive: {value[:200]}")
        keys: list[str] = []
        t = time.monotonic()
        now = int(time.time())
        start = now - need // 1000 - 1   # ~1000 messages a second, ending now (recent: no expiry)
        for base in range(0, need, CHUNK):
            batch = []
            for i in range(base, min(need, base + CHUNK)):
                key = str(uuid.uuid4())
                keys.append(key)
                batch.append((host, room, "muc_log", key, start + i // 1000, with_, type_,
                              value.replace(marker, f"B filler {i} of a reasonable length for a chat room")))
            db.executemany('INSERT INTO prosodyarchive ("host","user","store","key","when","with","type","value") '
                           'VALUES (?,?,?,?,?,?,?,?)', batch)
            db.commit()
        elapsed = time.monotonic() - t
        progress(f"  filled native {room}: {need} rows in {elapsed:.1f} s")
        return {"rows": need, "seconds": elapsed, "rows_per_s": need / elapsed if elapsed else 0.0,
                "middle": keys[len(keys) // 2] if keys else None}
    finally:
        db.close()


async def _fill_ours(url: str, archive: str, total: int) -> dict[str, Any]:
    from component.storage import Database
    from plugins.mam.service import ArchiveService
    from plugins.mam.store import ArchiveStore

    db = Database(url)
    try:
        store = ArchiveStore(db)
        service = ArchiveService(store, ROOMS)
        have = await service.count(archive)
        first, last = await service.bounds(archive)
        if last is None:
            raise RuntimeError(f"our archive of {archive} is empty: is archiving on?")
        template = ArchiveService._row(last)
        marker = "B template message"
        text = template["stanza"]
        if marker not in text:
            raise RuntimeError(f"unexpected stored form in our archive: {text[:200]}")
        need = total - have
        ids: list[str] = []
        t = time.monotonic()
        start = time.time() - need / 1000 - 1
        for base in range(0, need, CHUNK):
            rows = []
            for i in range(base, min(need, base + CHUNK)):
                ts = start + i / 1000
                sid = new_id(ts)
                ids.append(sid)
                row = dict(template)
                row["stanza_id"] = sid
                row["timestamp"] = ts
                row["stanza"] = text.replace(last.stanza_id, sid).replace(
                    marker, f"B filler {i} of a reasonable length for a chat room")
                rows.append(row)
            await store.insert(rows)
        elapsed = time.monotonic() - t
        ids.sort()
        count = await service.count(archive)
        middle = ids[len(ids) // 2] if ids else None
        return {"rows": need, "seconds": elapsed, "rows_per_s": need / elapsed if elapsed else 0.0,
                "middle": middle, "count_after": count, "service": await _service_times(service, archive, middle)}
    finally:
        await db.close()


async def _service_times(service: Any, archive: str, middle: str | None, count: int = 30) -> dict[str, float]:
    """The archive service's own time for the same two pages, in this process (no XMPP, no Prosody)."""
    from plugins.mam.hooks import QuerySpec

    out: dict[str, float] = {}
    for kind, spec in (("last", QuerySpec(max=PAGE, before="")), ("deep", QuerySpec(max=PAGE, after=middle))):
        if kind == "deep" and middle is None:
            continue
        times = []
        for _ in range(count):
            t = time.perf_counter()
            page = await service.query(archive, spec)
            times.append(time.perf_counter() - t)
            if len(page.records) != PAGE:
                raise RuntimeError(f"the archive service returned {len(page.records)} records, not {PAGE}")
        times.sort()
        out[f"{kind}_p50_ms"] = percentile(times, 50) * 1000
    return out


def fill_ours(url: str, archive: str, total: int, progress: Callable[[str], None]) -> dict[str, Any]:
    result = asyncio.run(_fill_ours(url, archive, total))
    progress(f"  filled ours {archive}: {result['rows']} rows in {result['seconds']:.1f} s")
    return result


def last_page() -> str:
    return f"<query xmlns='{MAM_NS}' queryid='b'><set xmlns='{RSM_NS}'><max>{PAGE}</max><before/></set></query>"


def page_after(stanza_id: str) -> str:
    return (f"<query xmlns='{MAM_NS}' queryid='b'><set xmlns='{RSM_NS}'><max>{PAGE}</max>"
            f"<after>{stanza_id}</after></set></query>")


def query_times(client: RawClient, room: str, payload: str, count: int) -> list[float]:
    times = []
    for n in range(count):
        iq_id = f"m{n}-{time.monotonic_ns()}"
        t = time.monotonic()
        answer = client.iq(room, "set", payload, iq_id)
        elapsed = time.monotonic() - t
        # Prosody re-serializes everything (attribute order varies): one <forwarded/> per result.
        got = answer.count(b"<forwarded")
        if got != PAGE:
            raise RuntimeError(f"MAM query to {room} returned {got} messages instead of {PAGE}: {answer[-500:]!r}")
        times.append(elapsed)
    return times


def run(stack: Stack, comp: ComponentProcess, sizes: list[int], reps: int, queries: int,
        progress: Callable[[str], None], prefix: str = "mam",
        native_from: dict[str, Any] | None = None) -> dict[str, Any]:
    """Seed, fill and query; `native_from` (a previous run's result) reuses its native rooms as they are."""
    out: dict[str, Any] = {"page": PAGE, "sizes": {}, "fill": {}, "prefix": prefix}
    rooms = seed_rooms(stack, sizes, prefix, sides=(ROOMS,) if native_from else (NATIVE, ROOMS))
    time.sleep(0.5)
    comp.stop()
    stack.prosody.stop()
    middles: dict[str, dict[str, str]] = {}
    native_rooms: dict[str, str] = {}
    try:
        for n, local in zip(sizes, rooms):
            if native_from:
                native_rooms[local] = native_from["native_rooms"][label(n)]
                native = dict(native_from["fill"][label(n)]["native"], reused=True)
                native_middle = native_from["middles"][label(n)]["native"]
            else:
                native_rooms[local] = local
                native = fill_native(str(stack.prosody.sql_path), local, n, progress)
                native_middle = native.pop("middle")
            ours = fill_ours(comp.db_url, f"{local}@{ROOMS}", n, progress)
            out["fill"][label(n)] = {"native": native, "ours": ours}
            middles[local] = {"native": native_middle, "ours": ours.pop("middle")}
    finally:
        stack.prosody.start()
        comp.start()
    out["native_rooms"] = {label(n): native_rooms[local] for n, local in zip(sizes, rooms)}
    out["middles"] = {label(n): middles[local] for n, local in zip(sizes, rooms)}
    client = RawClient(stack.c2s, "mamreader", "bench-password", "reader").login(register=True)
    try:
        for n, local in zip(sizes, rooms):
            block: dict[str, Any] = {"runs": {"native": [], "ours": []}}
            for _ in range(reps):
                for side, domain in (("native", NATIVE), ("ours", ROOMS)):
                    room = f"{native_rooms[local] if side == 'native' else local}@{domain}"
                    last = sorted(query_times(client, room, last_page(), queries))
                    deep = sorted(query_times(client, room, page_after(middles[local][side]), queries))
                    block["runs"][side].append({"last_p50_ms": percentile(last, 50) * 1000,
                                                "last_p90_ms": percentile(last, 90) * 1000,
                                                "deep_p50_ms": percentile(deep, 50) * 1000,
                                                "deep_p90_ms": percentile(deep, 90) * 1000})
            keys = ["last_p50_ms", "last_p90_ms", "deep_p50_ms", "deep_p90_ms"]
            block["median"] = {side: {k: median(r[k] for r in runs) for k in keys}
                               for side, runs in block["runs"].items()}
            block["ratio"] = {k: ratio(block["median"]["ours"][k], block["median"]["native"][k]) for k in keys}
            out["sizes"][label(n)] = block
            m = block["median"]
            progress(f"  MAM {label(n)}: last page native {m['native']['last_p50_ms']:.2f} ms, ours "
                     f"{m['ours']['last_p50_ms']:.2f} ms; deep page native {m['native']['deep_p50_ms']:.2f} ms, "
                     f"ours {m['ours']['deep_p50_ms']:.2f} ms")
    finally:
        client.close()
    return out
