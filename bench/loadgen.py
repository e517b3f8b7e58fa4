"""The load generator: raw c2s sockets spread over worker processes, driven by a coordinator.

Each worker owns a set of logged-in sockets and runs a plain epoll loop:
no XMPP library, no XML parser. Received bytes are only scanned for the body
marker ``<body>B w.c.s.t</body>`` that every benchmark message carries
(worker, client, sequence number, send time in ns of the system-wide monotonic
clock), which gives deliveries, latency and loss without parsing anything else.

Senders run either *saturated* (each keeps a window of its own messages in
flight; the reflection a MUC sends back to the sender, or the receipt by a
1:1 peer in the same worker, frees a slot) or *paced* (a fixed rate).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import select
import socket
import time
import traceback
from array import array
from dataclasses import dataclass, field
from typing import Any

from .rawxmpp import STATUS_SELF, RawClient, XmppError

MARK = b"<body>B "
MARK_END = b"</body>"
#: Saturated runs: pause between reads (see cmd_traffic).
NAP_S = 0.005
PASSWORD = "bench-password"


@dataclass
class Sender:
    client: int                 #: global client index
    to: str                     #: room JID (groupchat) or a full JID (chat)
    kind: str = "groupchat"
    window: int = 0             #: saturated: messages in flight (0 = paced)
    rate: float = 0.0           #: paced: messages per second


@dataclass
class TrafficResult:
    duration: float             #: measured window (s)
    sent: int                   #: messages sent in total
    received: int               #: deliveries in total (measured window and drain)
    received_window: int        #: deliveries inside the measured window
    expected: int               #: deliveries that should have happened
    latencies_ns: array = field(repr=False, default_factory=lambda: array("q"))
    cpu: dict[str, float] = field(default_factory=dict)   #: CPU seconds in the measured window
    #: deliveries inside the measured window, per receiving client (global index)
    window_by_client: dict[int, int] = field(default_factory=dict)
    reads: int = 0              #: socket reads by the load generator over the whole run

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)

    @property
    def deliveries_per_s(self) -> float:
        return self.received_window / self.duration if self.duration else 0.0


# ---------------------------------------------------------------------------
# worker side
# ---------------------------------------------------------------------------


class FastCounter:
    """Counts deliveries with `bytes.count`, without locating each one (saturated runs).

    Every delivery carries ``MARK``; a sender's own reflections carry its own prefix
    ``<body>B w.c.``, so both counts are C-speed scans of each read. A marker cut by a read
    boundary is completed by the kept tail; a marker wholly inside the tail was counted with the
    previous read, hence "count in tail + data minus count in tail". One latency is sampled per
    read (the last complete marker's timestamp).
    """

    TAIL = 32

    def __init__(self, wid: int, windowed: list[int], tails: list[bytes], inflight: dict[int, int],
                 latencies: array, counts: dict[str, int], window_by_client: dict[int, int],
                 window_start: float, window_end: float, last_rx: list[float]) -> None:
        self.own = {ci: b"<body>B %d.%d." % (wid, ci) for ci in windowed}
        assert all(len(p) < self.TAIL for p in self.own.values())
        self.tails = tails
        self.inflight = inflight
        self.latencies = latencies
        self.counts = counts
        self.by_client = window_by_client
        self.start_ns = int(window_start * 1e9)
        self.end_ns = int(window_end * 1e9)
        self.last_rx = last_rx

    def on_data(self, ci: int, data: bytes) -> None:
        tail = self.tails[ci]
        buf = tail + data if tail else data
        self.tails[ci] = buf[-self.TAIL:]
        own = self.own.get(ci)
        if own is not None:
            # Before the early return below: an own prefix may end in a read that holds no new MARK.
            mine = buf.count(own) - (tail.count(own) if tail else 0)
            if mine:
                self.inflight[ci] = max(0, self.inflight[ci] - mine)
        n = buf.count(MARK)
        if tail:
            n -= tail.count(MARK)
        if not n:
            return
        counts = self.counts
        counts["received"] += n
        now = time.monotonic_ns()
        if self.start_ns <= now <= self.end_ns:
            counts["window"] += n
            self.by_client[ci] = self.by_client.get(ci, 0) + n
            i = buf.rfind(MARK)
            j = buf.find(MARK_END, i)
            if j > 0:
                self.latencies.append(now - int(buf[buf.rfind(b".", i, j) + 1:j]))
        self.last_rx[0] = time.monotonic()


def count_deliveries(chunks: list[bytes], wid: int = 0, sender: int | None = None) -> tuple[int, int]:
    """Deliveries and `sender`'s own reflections in a stream read as `chunks` (for tests)."""
    inflight = {sender: 10**9} if sender is not None else {}
    counts = {"received": 0, "window": 0}
    ci = sender if sender is not None else 0
    c = FastCounter(wid, [sender] if sender is not None else [], [b""] * (ci + 1), inflight, array("q"), counts,
                    {}, 0.0, 0.0, [0.0])
    for chunk in chunks:
        c.on_data(ci, chunk)
    return counts["received"], (10**9 - inflight[sender]) if sender is not None else 0



class Worker:
    def __init__(self, wid: int, port: int) -> None:
        self.wid = wid
        self.port = port
        self.clients: list[RawClient] = []
        # epoll directly: the selectors wrapper costs a few µs per event, and the saturated runs'
        # cost is mostly per read.
        self.ep = select.epoll()
        self.socks: dict[int, socket.socket] = {}
        self.fd_ci: dict[int, int] = {}
        self.out: list[bytearray] = []
        self.tail: list[bytes] = []
        self.handler = self._discard
        self.late = 0
        self.reads = 0   #: socket reads so far (deliveries per read tell how much each costs)

    # -- plumbing ---------------------------------------------------------
    def _add(self, client: RawClient) -> None:
        ci = len(self.clients)
        self.clients.append(client)
        self.out.append(bytearray())
        self.tail.append(b"")
        assert client.sock is not None
        client.sock.setblocking(False)
        fd = client.sock.fileno()
        self.fd_ci[fd] = ci
        self.socks[fd] = client.sock
        self.ep.register(fd, select.EPOLLIN)
        if client.buffer:
            # Bytes read during login belong to the loop now.
            pending, client.buffer = client.buffer, b""
            self.tail[ci] = pending[-64:]

    def write(self, ci: int, data: bytes) -> None:
        out = self.out[ci]
        sock = self.clients[ci].sock
        if not out:
            try:
                n = sock.send(data)
            except BlockingIOError:
                n = 0
            if n == len(data):
                return
            out += data[n:]
            self.ep.modify(sock.fileno(), select.EPOLLIN | select.EPOLLOUT)
        else:
            out += data

    def _flush(self, ci: int) -> None:
        out = self.out[ci]
        sock = self.clients[ci].sock
        try:
            n = sock.send(out)
        except BlockingIOError:
            return
        del out[:n]
        if not out:
            self.ep.modify(sock.fileno(), select.EPOLLIN)

    def poll(self, timeout: float) -> None:
        fd_ci, socks, handler = self.fd_ci, self.socks, self.handler
        for fd, events in self.ep.poll(timeout):
            ci = fd_ci[fd]
            if events & select.EPOLLOUT:
                self._flush(ci)
            if events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                try:
                    data = socks[fd].recv(262144)
                except (BlockingIOError, InterruptedError):
                    continue
                if not data:
                    raise XmppError(f"worker {self.wid}: connection of client {ci} closed by the server")
                self.reads += 1
                handler(ci, data)

    def _discard(self, ci: int, data: bytes) -> None:
        pass

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.poll(left)

    def cmd_quiesce(self, quiet: float = 0.3, limit: float = 60) -> None:
        """Read and drop everything until all sockets are silent for `quiet` seconds."""
        last = [time.monotonic()]

        def note(_ci: int, _data: bytes) -> None:
            last[0] = time.monotonic()

        self.handler = note
        end = time.monotonic() + limit
        while time.monotonic() - last[0] < quiet and time.monotonic() < end:
            self.poll(quiet)
        self.handler = self._discard

    # -- commands ---------------------------------------------------------
    def cmd_login(self, specs: list[tuple[str, str]], register: bool, guest_host: str = "") -> int:
        for user, resource in specs:
            client = RawClient(self.port, user, PASSWORD, resource, host=guest_host or "localhost")
            client.login(register=register and not guest_host, anonymous=bool(guest_host))
            self._add(client)
        return len(self.clients)

    def cmd_send(self, items: list[tuple[int, str]]) -> None:
        for ci, data in items:
            self.write(ci, data.encode())

    def cmd_join(self, room: str, members: list[tuple[int, str]], concurrency: int = 20,
                 timeout: float = 300) -> list[float]:
        """Join `members` (local index, nick); returns each join's time to the self-presence (s)."""
        waiting: dict[int, float] = {}
        times: list[float] = []
        todo = list(members)

        def watch(ci: int, data: bytes) -> None:
            if ci not in waiting:
                return
            scan = self.tail[ci] + data
            if STATUS_SELF.search(scan):
                times.append(time.monotonic() - waiting.pop(ci))
                self.tail[ci] = b""
            else:
                self.tail[ci] = scan[-64:]

        self.handler = watch
        end = time.monotonic() + timeout
        try:
            while todo or waiting:
                while todo and len(waiting) < concurrency:
                    ci, nick = todo.pop(0)
                    self.tail[ci] = b""
                    waiting[ci] = time.monotonic()
                    self.write(ci, (f"<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'>"
                                    "<history maxstanzas='0'/></x></presence>").encode())
                if time.monotonic() > end:
                    raise XmppError(f"worker {self.wid}: {len(waiting)} joins to {room} unanswered")
                self.poll(0.5)
        finally:
            self.handler = self._discard
        return times

    def cmd_leave(self, room: str, members: list[tuple[int, str]]) -> None:
        for ci, nick in members:
            self.write(ci, f"<presence type='unavailable' to='{room}/{nick}'/>".encode())

    def cmd_iq_times(self, ci: int, to: str, payloads: list[str], timeout: float = 60) -> list[dict]:
        """Send IQs one after another; for each: seconds to the answer, forwarded items, error flag."""
        results: list[dict] = []
        state: dict[str, Any] = {}

        def watch(c: int, data: bytes) -> None:
            if c != ci:
                return
            buf = state["buf"] + data
            state["forwarded"] += data.count(b"<forwarded")
            m = state["pattern"].search(buf)
            if m:
                state["done"] = time.monotonic()
                state["answer"] = buf[m.start():m.end()]
            else:
                state["buf"] = buf[-4096:]

        self.handler = watch
        try:
            for n, payload in enumerate(payloads):
                iq_id = f"q{n}x{time.monotonic_ns()}"
                state.update(buf=b"", forwarded=0, done=None, answer=b"",
                             pattern=re.compile(rb"<iq[^>]*id=['\"]" + iq_id.encode() + rb"['\"][^>]*(?:/>|>.*?</iq>)",
                                                re.DOTALL))
                start = time.monotonic()
                self.write(ci, f"<iq type='set' to='{to}' id='{iq_id}'>{payload}</iq>".encode())
                end = start + timeout
                while state["done"] is None:
                    if time.monotonic() > end:
                        raise XmppError(f"worker {self.wid}: IQ to {to} unanswered after {timeout} s")
                    self.poll(end - time.monotonic())
                answer = state["answer"]
                results.append({"seconds": state["done"] - start, "forwarded": state["forwarded"],
                                "error": b"type='error'" in answer[:300] or b'type="error"' in answer[:300],
                                "answer": answer[-600:].decode("utf-8", "replace")})
        finally:
            self.handler = self._discard
        return results

    def cmd_join_times(self, ci: int, room: str, nick: str, reps: int, timeout: float = 120) -> list[float]:
        """Join and leave `room` `reps` times; each value is the time to our own presence."""
        times = []
        for _ in range(reps):
            times += self.cmd_join(room, [(ci, nick)], timeout=timeout)
            self.cmd_leave(room, [(ci, nick)])
            self.cmd_quiesce(0.2)
        return times

    def cmd_traffic(self, senders: list[dict], start_at: float, duration: float, warmup: float,
                    ack_any: bool, drain_quiet: float, drain_limit: float, exact: bool | None = None) -> dict:
        """One load period. `exact` reads every delivery's timestamp (every latency; costs ~4x the
        CPU per delivery); the default does so only for paced or 1:1 runs, and saturated runs count
        markers (see `FastCounter`), sampling one latency per read."""
        wid = self.wid
        reads_before = self.reads
        if exact is None:
            exact = ack_any or not any(s["window"] for s in senders)
        latencies = array("q")
        counts = {"received": 0, "window": 0, "sent": 0}
        window_by_client: dict[int, int] = {}
        inflight: dict[int, int] = {}
        window_start = start_at + warmup
        window_end = start_at + duration
        last_rx = [time.monotonic()]
        tails = self.tail
        for i in range(len(tails)):
            tails[i] = b""

        def on_data(ci: int, data: bytes) -> None:
            buf = tails[ci] + data if tails[ci] else data
            now = time.monotonic_ns()
            in_window = window_start * 1e9 <= now <= window_end * 1e9
            pos = 0
            n = 0
            while True:
                i = buf.find(MARK, pos)
                if i < 0:
                    tails[ci] = buf[max(pos, len(buf) - 8):]
                    break
                j = buf.find(MARK_END, i)
                if j < 0:
                    tails[ci] = buf[i:]
                    break
                w, c, _seq, t = buf[i + 8:j].split(b".")
                n += 1
                if in_window:
                    latencies.append(now - int(t))
                if int(w) == wid:
                    src = int(c)
                    if (ack_any or src == ci) and src in inflight:
                        inflight[src] -= 1
                pos = j + 7
            if n:
                counts["received"] += n
                if in_window:
                    counts["window"] += n
                    window_by_client[ci] = window_by_client.get(ci, 0) + n
                last_rx[0] = time.monotonic()

        if not exact:
            counter = FastCounter(wid, [s["client"] for s in senders if s["window"]], tails, inflight,
                                  latencies, counts, window_by_client, window_start, window_end, last_rx)
            on_data = counter.on_data  # noqa: F811 - the saturated runs' cheaper handler

        plans = []
        for s in senders:
            head = (f"<message to='{s['to']}' type='{s['kind']}' id='").encode()
            plans.append((s["client"], head, s["window"], s["rate"]))
            inflight[s["client"]] = 0
        seq = {p[0]: 0 for p in plans}

        def message(ci: int, head: bytes) -> bytes:
            n = seq[ci] = seq[ci] + 1
            return b"%s%d'><body>B %d.%d.%d.%d</body></message>" % (head, n, wid, ci, n, time.monotonic_ns())

        self.handler = on_data
        try:
            while time.monotonic() < start_at:
                self.poll(max(0.0, start_at - time.monotonic()))
            next_at = {p[0]: start_at for p in plans}
            while (now := time.monotonic()) < window_end:
                wake = window_end
                for ci, head, window, rate in plans:
                    if window:
                        room = window - inflight[ci]
                        if room > 0:
                            self.write(ci, b"".join(message(ci, head) for _ in range(room)))
                            inflight[ci] += room
                            counts["sent"] += room
                    else:
                        due = next_at[ci]
                        if now >= due:
                            burst = []
                            while due <= now:
                                burst.append(message(ci, head))
                                due += 1.0 / rate
                            self.write(ci, b"".join(burst))
                            counts["sent"] += len(burst)
                            next_at[ci] = due
                        wake = min(wake, due)
                if not exact:
                    # Saturated: let each socket gather several stanzas per read. A read costs
                    # ~15 µs (select, recv, the loop) whatever it holds, and under load a server
                    # writes one stanza at a time: reading as it trickles in cost a third of a core
                    # at 20,000 deliveries/s. The nap adds at most NAP_S to each round trip.
                    time.sleep(NAP_S)
                self.poll(max(0.0, min(wake - time.monotonic(), 0.05)))
            # Drain: stop sending, read until quiet.
            last_rx[0] = time.monotonic()
            drain_end = time.monotonic() + drain_limit
            while time.monotonic() - last_rx[0] < drain_quiet and time.monotonic() < drain_end:
                self.poll(0.05)
        finally:
            # Late deliveries (a slow server) are still counted by cmd_drain.
            self.late = 0

            def count_late(ci: int, data: bytes) -> None:
                buf = tails[ci] + data
                self.late += buf.count(MARK)
                # A marker split across reads is counted once: keep only a short unscanned tail.
                cut = buf.rfind(b">")
                tails[ci] = buf[cut + 1:] if cut >= 0 else buf[-8:]
                if MARK in tails[ci]:
                    tails[ci] = b""

            self.handler = count_late
        return {"sent": counts["sent"], "received": counts["received"], "window": counts["window"],
                "reads": self.reads - reads_before,
                "window_by_client": window_by_client, "latencies": latencies.tobytes()}

    def cmd_drain(self, quiet: float) -> int:
        """Deliveries of the last traffic run that arrived after it returned (until `quiet` s of silence)."""
        before = -1
        end = time.monotonic() + quiet
        while time.monotonic() < end:
            self.poll(0.05)
            if self.late != before:
                before = self.late
                end = time.monotonic() + quiet
        late, self.late = self.late, 0
        return late

    def cmd_settle(self) -> None:
        self.handler = self._discard

    def cmd_close(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()


def _worker_main(wid: int, port: int, conn: Any, worker_class: type = Worker) -> None:
    worker = worker_class(wid, port)
    while True:
        try:
            command, args = conn.recv()
        except EOFError:
            return
        try:
            if command == "exit":
                worker.cmd_close()
                conn.send(("ok", None))
                return
            result = getattr(worker, f"cmd_{command}")(*args)
            conn.send(("ok", result))
        except BaseException as exc:  # noqa: BLE001 - report to the coordinator, keep serving
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


# ---------------------------------------------------------------------------
# coordinator side
# ---------------------------------------------------------------------------


class LoadGenError(RuntimeError):
    pass


class LoadGen:
    """Clients are numbered globally; client g lives in worker g % workers."""

    #: The worker processes' class (a scenario with its own commands subclasses Worker) and name.
    worker_class: type = Worker
    process_name = "bench-loadgen"

    def __init__(self, port: int, workers: int = 2) -> None:
        # fork: quick, and the coordinator holds no threads or event loop the workers could trip on.
        ctx = multiprocessing.get_context("fork")
        self.port = port
        self.n = workers
        self.conns = []
        self.procs = []
        for wid in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(wid, port, child, self.worker_class), daemon=True,
                               name=f"{self.process_name}-{wid}")
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self.count = 0
        self.users: list[str] = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def _locate(self, g: int) -> tuple[int, int]:
        return g % self.n, g // self.n

    def _call_all(self, calls: dict[int, tuple[str, tuple]]) -> dict[int, Any]:
        for wid, (command, args) in calls.items():
            self.conns[wid].send((command, args))
        results = {}
        errors = []
        for wid in calls:
            status, value = self.conns[wid].recv()
            if status == "error":
                errors.append(f"worker {wid}: {value}")
            results[wid] = value
        if errors:
            raise LoadGenError("\n".join(errors))
        return results

    def _call(self, wid: int, command: str, *args: Any) -> Any:
        return self._call_all({wid: (command, args)})[wid]

    def jid(self, g: int) -> str:
        return f"{self.users[g]}@localhost/b{g}"

    def login(self, users: list[str], register: bool = True, guest_host: str = "") -> list[int]:
        """Log in one client per user name (registering them first), or as anonymous guests of
        ``guest_host`` (the names then only count them); returns their global indices."""
        first = self.count
        ids = list(range(first, first + len(users)))
        per: dict[int, list[tuple[str, str]]] = {w: [] for w in range(self.n)}
        for g, user in zip(ids, users):
            per[self._locate(g)[0]].append((user, f"b{g}"))
        self.users += users
        self._call_all({w: ("login", (specs, register, guest_host)) for w, specs in per.items() if specs})
        self.count += len(users)
        return ids

    def send(self, items: list[tuple[int, str]]) -> None:
        per: dict[int, list[tuple[int, str]]] = {}
        for g, data in items:
            w, ci = self._locate(g)
            per.setdefault(w, []).append((ci, data))
        self._call_all({w: ("send", (v,)) for w, v in per.items()})

    def join(self, room: str, members: list[tuple[int, str]], concurrency: int = 20) -> list[float]:
        per: dict[int, list[tuple[int, str]]] = {}
        for g, nick in members:
            w, ci = self._locate(g)
            per.setdefault(w, []).append((ci, nick))
        results = self._call_all({w: ("join", (room, v, concurrency)) for w, v in per.items()})
        return [t for r in results.values() for t in r]

    def leave(self, room: str, members: list[tuple[int, str]]) -> None:
        per: dict[int, list[tuple[int, str]]] = {}
        for g, nick in members:
            w, ci = self._locate(g)
            per.setdefault(w, []).append((ci, nick))
        self._call_all({w: ("leave", (room, v)) for w, v in per.items()})

    def quiesce(self, quiet: float = 0.3) -> None:
        self._call_all({w: ("quiesce", (quiet,)) for w in range(self.n)})

    def iq_times(self, g: int, to: str, payloads: list[str]) -> list[dict]:
        w, ci = self._locate(g)
        return self._call(w, "iq_times", ci, to, payloads)

    def join_times(self, g: int, room: str, nick: str, reps: int) -> list[float]:
        w, ci = self._locate(g)
        return self._call(w, "join_times", ci, room, nick, reps)

    def traffic(self, senders: list[Sender], *, duration: float, warmup: float, fanout: int,
                cpu_pids: dict[str, int | list[int]], ack_any: bool = False, drain_quiet: float = 0.5,
                drain_limit: float = 30, exact: bool | None = None) -> TrafficResult:
        """Run one load period; CPU of `cpu_pids` and of the workers is read over the measured window."""
        from .procstat import cpu_many

        per: dict[int, list[dict]] = {w: [] for w in range(self.n)}
        for s in senders:
            w, ci = self._locate(s.client)
            per[w].append({"client": ci, "to": s.to, "kind": s.kind, "window": s.window, "rate": s.rate})
        start_at = time.monotonic() + 0.3
        for w in range(self.n):
            self.conns[w].send(("traffic", (per[w], start_at, duration, warmup, ack_any, drain_quiet,
                                            drain_limit, exact)))
        pids = {**cpu_pids, "loadgen": self.pids}
        time.sleep(max(0.0, start_at + warmup - time.monotonic()))
        before = cpu_many(pids)
        time.sleep(max(0.0, start_at + duration - time.monotonic()))
        after = cpu_many(pids)
        sent = received = window = reads = 0
        latencies = array("q")
        by_client: dict[int, int] = {}
        errors = []
        for w in range(self.n):
            status, value = self.conns[w].recv()
            if status == "error":
                errors.append(f"worker {w}: {value}")
                continue
            sent += value["sent"]
            received += value["received"]
            window += value["window"]
            reads += value["reads"]
            for ci, n in value["window_by_client"].items():
                by_client[ci * self.n + w] = n  # the inverse of _locate
            chunk = array("q")
            chunk.frombytes(value["latencies"])
            latencies.extend(chunk)
        if errors:
            raise LoadGenError("\n".join(errors))
        # A slow server may still be delivering: keep counting until everything expected arrived
        # or nothing more comes for a while (then the difference is really lost).
        expected = sent * fanout
        stalled_until = time.monotonic() + drain_limit
        while received < expected and time.monotonic() < stalled_until:
            more = sum(self._call_all({w: ("drain", (2.0,)) for w in range(self.n)}).values())
            if more:
                received += more
                stalled_until = time.monotonic() + drain_limit
            else:
                break
        self._call_all({w: ("settle", ()) for w in range(self.n)})
        return TrafficResult(duration=duration - warmup, sent=sent, received=received, received_window=window,
                             expected=expected, latencies_ns=latencies,
                             cpu={k: after[k] - before[k] for k in pids}, window_by_client=by_client,
                             reads=reads)

    def close(self) -> None:
        for conn, proc in zip(self.conns, self.procs):
            try:
                conn.send(("exit", ()))
                conn.recv()
            except (OSError, EOFError):
                pass
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(2)

    def __enter__(self) -> "LoadGen":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


__all__ = ["LoadGen", "Sender", "TrafficResult", "PASSWORD", "cpu_count"]
