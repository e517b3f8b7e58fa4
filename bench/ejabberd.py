"""Fan-out on ejabberd: Switchboard over 1, 2 and 4 processes next to ejabberd's own mod_muc.

One ejabberd (Debian's, started like the tests start it) serves both sides:
- native: ``mod_muc`` at ``conference.localhost``, archiving with ``mod_mam`` on PostgreSQL
  (its default Mnesia backend collapses under this load, so it would not be a like-for-like
  comparison);
- ours: ``rooms.localhost`` balanced by ejabberd over 4 XEP-0114 slots (``domain_balancing``,
  ``bare_destination``), served by 1, 2 or 4 ``switchboard run`` processes sharing one PostgreSQL
  database (the same PostgreSQL server as ejabberd's archive).

Several rooms are loaded at once (a room is pinned to one slot, so one room could only ever use
one process): their names are chosen so that each slot holds the same number of rooms. Archiving
on and off are separate rooms (native: the room option ``mam``; ours: archiving in the room
form). Within a process-count block the two sides alternate, repetition after repetition.

    python -m bench --only ejabberd
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from .loadgen import LoadGen, Sender
from .scenarios import _traffic_summary, archiving_form, muc_options
from .stack import HOST, ROOMS, SECRETS, component_config
from .stats import median, ratio

log = logging.getLogger("bench")

SLOTS = 4
NATIVE = f"conference.{HOST}"
MAM_PROBE = ("<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>5</max>"
             "<before/></set></query>")

#: ejabberd's archive table (its own schema for PostgreSQL, ``new_sql_schema: false``).
ARCHIVE_DDL = """
CREATE TABLE archive (username text NOT NULL, timestamp BIGINT NOT NULL, peer text NOT NULL,
  bare_peer text NOT NULL, xml text NOT NULL, txt text NOT NULL, id BIGSERIAL NOT NULL UNIQUE,
  kind text NOT NULL, nick text, created_at TIMESTAMP NOT NULL DEFAULT now());
CREATE INDEX i_username_timestamp ON archive USING btree (username, timestamp);
CREATE INDEX i_username_peer ON archive USING btree (username, peer);
CREATE INDEX i_username_bare_peer ON archive USING btree (username, bare_peer);
CREATE INDEX i_timestamp ON archive USING btree (timestamp);
CREATE TABLE archive_prefs (username text NOT NULL PRIMARY KEY, def text NOT NULL, always text NOT NULL,
  never text NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT now());
"""


def missing() -> str:
    """Why this scenario cannot run here ("" when it can)."""
    from component.localejabberd import available

    if not available():
        return "ejabberd is not installed (Debian package ejabberd)"
    if not any(Path("/usr/lib/erlang/lib").glob("p1_pgsql-*")):
        return "ejabberd's PostgreSQL driver is missing (Debian package erlang-p1-pgsql; make system-deps)"
    return ""


def native_form(on: bool) -> str:
    """ejabberd's room form field for archiving is ``mam``."""
    return ("<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>"
            "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
            f"<field var='mam'><value>{1 if on else 0}</value></field></x></query>")


def balanced_names(prefix: str, count: int, domain: str, slots: int) -> list[str]:
    """`count` room names (count a multiple of `slots`) with as many rooms on each slot."""
    from component.balancing import slot_of

    per: dict[int, list[str]] = {s: [] for s in range(slots)}
    for name in (f"{prefix}{i}" for i in range(count * 8)):
        per[slot_of(f"{name}@{domain}", slots)].append(name)
    each = count // slots
    if any(len(v) < each for v in per.values()):
        raise RuntimeError(f"not enough room names per slot for {count} rooms")
    return [name for s in range(slots) for name in per[s][:each]]


class BenchEjabberd:
    """ejabberd with mod_muc + mod_mam (SQL) and a balanced component domain; its state in `state`."""

    def __init__(self, state: Path, pg: Any, database: str, extra_modules: str = "") -> None:
        from component.localejabberd import LocalEjabberd

        sql = (f"sql_type: pgsql\nsql_server: \"127.0.0.1\"\nsql_port: {pg.port}\nsql_database: \"{database}\"\n"
               "sql_username: \"postgres\"\nsql_password: \"\"\nsql_pool_size: 10\n")
        muc = (f"  mod_muc:\n    host: \"{NATIVE}\"\n    history_size: 20\n    max_users: 1000\n"
               "    max_user_conferences: 1000\n    default_room_options:\n      mam: true\n")

        class Server(LocalEjabberd):
            def render(self) -> str:
                text = super().render()
                old = "  mod_mam:\n    default: always\n"
                assert old in text, "the ejabberd test template changed: update bench/ejabberd.py"
                # Only rooms archive (user archives off: nothing here is 1:1), on PostgreSQL.
                text = text.replace(old, "  mod_mam:\n    db_type: sql\n    default: never\n")
                text = text.replace("\nmodules:\n", "\n" + sql + "\nmodules:\n", 1)
                return text.rstrip("\n") + "\n" + muc + extra_modules

        self.server = Server(state, host=HOST, components={ROOMS: SECRETS[ROOMS]}, admins=[f"admin@{HOST}"],
                             balancing={ROOMS: SLOTS}, log_level="info")

    def start(self) -> None:
        self.server.start(timeout=120)

    def stop(self) -> None:
        self.server.stop()

    @property
    def pid(self) -> int:
        pid = self.server.pid
        assert pid is not None
        return pid


class Processes:
    """`count` ``switchboard run`` processes sharing the 4 slots and one PostgreSQL database."""

    def __init__(self, root: Path, folder: Path, server: Any, db_url: str, count: int) -> None:
        self.root = root
        self.server = server
        self.procs: list[subprocess.Popen[bytes]] = []
        self.folder = folder
        self.db_url = db_url
        each = SLOTS // count
        self.shares = [list(range(i * each, (i + 1) * each)) for i in range(count)]

    def start(self, timeout: float = 90) -> None:
        since = self.server.log_position()
        services = {ROOMS: {"muc": muc_options(), "mam": {}}}
        for i, mine in enumerate(self.shares):
            d = self.folder / f"p{i}"
            d.mkdir(parents=True, exist_ok=True)
            text = component_config(self.server.ports.component, services, d / "state", self.db_url)
            text += f"[balancing]\nslots = {SLOTS}\nprocess_slots = {mine}\n"
            config = d / "switchboard.toml"
            config.write_text(text)
            config.chmod(0o600)
            with open(d / "component.log", "ab") as out:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "component.cli", "run", "--config", str(config)], cwd=self.root,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        needle = f"external component handshake authentication for {ROOMS}"
        deadline = time.monotonic() + timeout
        while self.server._log_since(since).count(needle) < SLOTS:  # noqa: SLF001
            for i, p in enumerate(self.procs):
                if p.poll() is not None:
                    raise RuntimeError(f"switchboard process {i} exited with {p.returncode}; "
                                       f"see {self.folder / f'p{i}' / 'component.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {len(self.procs)} processes did not open {SLOTS} slots in {timeout} s")
            time.sleep(0.1)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


def postgres_pids(pg: Any) -> list[int]:
    """The postmaster and its children (backends of both sides, writer, WAL writer...)."""
    head = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    pids = [head]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            data = stat.read_bytes()
        except OSError:
            continue
        if int(data[data.rindex(b")") + 2:].split()[1]) == head:
            pids.append(int(stat.parent.name))
    return pids


class EjabberdBench:
    """The whole scenario; `run()` returns the results block (see `bench.ejabberd_report`)."""

    def __init__(self, state: Path, say: Callable[[str], None], *, reps: int = 2, duration: float = 5.0,
                 warmup: float = 1.0, workers: int = 2, inflight: int = 400,
                 shapes: tuple[tuple[int, int, int], ...] = ((20, 5, 8), (100, 1, 4)),
                 processes: tuple[int, ...] = (1, 2, 4), archiving: tuple[str, ...] = ("on", "off")) -> None:
        self.state = state
        self.say = say
        self.reps = reps
        self.duration = duration
        self.warmup = warmup
        self.workers = workers
        self.inflight = inflight          #: deliveries in flight per room (messages x occupants)
        self.shapes = shapes              #: (occupants, senders, rooms)
        self.processes = processes
        self.archiving = archiving
        self.root = Path(__file__).resolve().parent.parent
        self.lg: LoadGen | None = None
        self.clients: list[int] = []

    # -- rooms ------------------------------------------------------------
    def _rooms(self, domain: str, names: list[str], occupants: int, on: bool) -> list[tuple[str, list[int]]]:
        """Create each room with its first member (owner form: archiving on/off), then fill it."""
        assert self.lg is not None
        rooms = []
        for k, name in enumerate(names):
            members = self.clients[k * occupants:(k + 1) * occupants]
            room = f"{name}@{domain}"
            self.lg.join(room, [(members[0], f"n{members[0]}")])
            form = native_form(on) if domain == NATIVE else archiving_form(on)
            [answer] = self.lg.iq_times(members[0], room, [form])
            if answer["error"]:
                raise RuntimeError(f"configuring {room} failed: {answer}")
            rooms.append((room, members))
        for room, members in rooms:
            self.lg.join(room, [(g, f"n{g}") for g in members[1:]])
        self.lg.quiesce()
        return rooms

    def _probe(self, rooms: list[tuple[str, list[int]]], pg: Any) -> int:
        """Messages archived for the first room: ours answers a MAM query (a page of at most 5);
        ejabberd's rows are counted in its table, since with archiving off it answers MAM
        queries from the room's history."""
        assert self.lg is not None
        room, members = rooms[0]
        if room.endswith("@" + NATIVE):
            return int(pg.psql(f"SELECT count(*) FROM archive WHERE username = '{room}'", "ejabberd").strip())
        return self.lg.iq_times(members[0], room, [MAM_PROBE])[0]["forwarded"]

    # -- one run ----------------------------------------------------------
    def _load(self, rooms: list[tuple[str, list[int]]], occupants: int, senders: int,
              pids: dict[str, Any]) -> dict[str, Any]:
        assert self.lg is not None
        window = max(1, self.inflight // (occupants * senders))
        plan = [Sender(g, room, window=window) for room, members in rooms for g in members[:senders]]
        r = self.lg.traffic(plan, duration=self.duration, warmup=self.warmup, fanout=occupants, cpu_pids=pids)
        self.lg.quiesce()
        out = _traffic_summary(r, occupants)
        out["loadavg"] = " ".join(f"{x:.2f}" for x in __import__("os").getloadavg())
        return out

    # -- the scenario -----------------------------------------------------
    def run(self) -> dict[str, Any]:
        from component.localpostgres import LocalPostgres

        from .loadgen import PASSWORD

        out: dict[str, Any] = {"slots": SLOTS, "shapes": [list(s) for s in self.shapes], "reps": self.reps,
                               "duration_s": self.duration, "warmup_s": self.warmup, "inflight_per_room": self.inflight,
                               "processes": list(self.processes), "blocks": {}}
        pg = LocalPostgres(self.state / "postgres")
        pg.start()
        ej: BenchEjabberd | None = None
        procs: Processes | None = None
        try:
            pg.create_database("ejabberd")
            pg.psql(ARCHIVE_DDL, "ejabberd")
            ej = BenchEjabberd(self.state / "ejabberd", pg, "ejabberd")
            t = time.monotonic()
            ej.start()
            count = max(o * r for o, _, r in self.shapes)
            users = [f"bench{i}" for i in range(count)]
            for user in users:
                ej.server.register(user, PASSWORD)
            self.lg = LoadGen(ej.server.ports.c2s, self.workers)
            self.clients = self.lg.login(users, register=False)
            self.say(f"  ejabberd up, {count} clients logged in, {time.monotonic() - t:.1f} s")
            native = {}
            for occ, snd, nrooms in self.shapes:
                for arch in self.archiving:
                    names = [f"n{occ}x{snd}{arch}{k}" for k in range(nrooms)]
                    native[(occ, snd, arch)] = self._rooms(NATIVE, names, occ, arch == "on")
            base = {"ejabberd": ej.pid, "loadgen": self.lg.pids, "machine": 0}
            for count_p in self.processes:
                t = time.monotonic()
                url = pg.create_database(f"switchboard{count_p}")
                procs = Processes(self.root, self.state / f"switchboard{count_p}", ej.server, url, count_p)
                procs.start()
                ours = {}
                for occ, snd, nrooms in self.shapes:
                    for arch in self.archiving:
                        names = balanced_names(f"p{count_p}r{occ}x{snd}{arch}", nrooms, ROOMS, SLOTS)
                        ours[(occ, snd, arch)] = self._rooms(ROOMS, names, occ, arch == "on")
                self.say(f"  {count_p} process(es) up and rooms filled in {time.monotonic() - t:.1f} s")
                pids = {**base, **{f"switchboard{i}": pid for i, pid in enumerate(procs.pids)}}
                block: dict[str, Any] = {}
                for rep in range(self.reps):
                    for occ, snd, nrooms in self.shapes:
                        for arch in self.archiving:
                            key = f"{occ}x{snd} archiving {arch}"
                            entry = block.setdefault(key, {"occupants": occ, "senders": snd, "rooms": nrooms,
                                                           "archiving": arch, "runs": {"native": [], "ours": []}})
                            # Alternate which side goes first from one repetition to the next.
                            order = ("native", "ours") if rep % 2 == 0 else ("ours", "native")
                            for side in order:
                                rooms = native[(occ, snd, arch)] if side == "native" else ours[(occ, snd, arch)]
                                pids["postgres"] = postgres_pids(pg)
                                result = self._load(rooms, occ, snd, pids)
                                entry["runs"][side].append(result)
                                self.say(f"  {count_p}p {key} rep {rep + 1} {side}: "
                                         f"{result['deliveries_per_s']:,.0f} deliveries/s, lost {result['lost']}, "
                                         f"ejabberd {result.get('cpu_share_ejabberd', 0):.0%}, load generator "
                                         f"{result.get('cpu_share_loadgen', 0):.0%}, machine "
                                         f"{result.get('cpu_share_machine', 0):.0%}")
                for (occ, snd, arch), rooms in ours.items():
                    block[f"{occ}x{snd} archiving {arch}"]["archived_probe"] = {
                        "ours": self._probe(rooms, pg), "native": self._probe(native[(occ, snd, arch)], pg)}
                for entry in block.values():
                    summarize(entry)
                out["blocks"][str(count_p)] = block
                procs.stop()
                procs = None
        finally:
            if self.lg is not None:
                self.lg.close()
                self.lg = None
            if procs is not None:
                procs.stop()
            if ej is not None:
                ej.stop()
            pg.stop()
        return out


def summarize(entry: dict[str, Any]) -> None:
    """Medians per side and the ratio ours / native."""
    keys = sorted({k for runs in entry["runs"].values() for r in runs for k, v in r.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)})
    entry["median"] = {side: {k: median(r[k] for r in runs if k in r) for k in keys}
                       for side, runs in entry["runs"].items()}
    entry["ratio"] = ratio(entry["median"]["ours"]["deliveries_per_s"], entry["median"]["native"]["deliveries_per_s"])
    # Each repetition's two runs were back to back: their ratio cancels slow drifts of the shared
    # machine's load that the medians of each side keep.
    entry["pair_ratios"] = [ratio(o["deliveries_per_s"], n["deliveries_per_s"])
                            for n, o in zip(entry["runs"]["native"], entry["runs"]["ours"])]
    entry["pair_ratio"] = median(entry["pair_ratios"])
