"""Slots shared by several processes: who holds which, checked in PostgreSQL.

The server decides which connection gets which slot (ejabberd gives a new
connection the first free one), so the slot numbers in the configuration are our
own bookkeeping: they say how many connections a process opens and let the
processes of one deployment check each other. Each process takes, for every
service domain, a PostgreSQL session-level advisory lock per slot it opens
(exclusive) and one for the N it runs with (shared). Locks live exactly as long
as the process's database connection, so a process killed with SIGKILL releases
its slots the moment the kernel closes its socket, and its restart claims them
again at once, without waiting for a lease to expire (the locks themselves, and how
they are kept when that session is lost while the process runs: claims.py).

Refused, with the reason: a slot another running process holds; an N that differs
from the N of the processes already running for the domain (N re-pins every room:
stop them all to change it, and change ejabberd's component_number with it).
"""

from __future__ import annotations

import zlib
from typing import Any

from .config import Config, ConfigError

# -- ejabberd's choice of a slot ------------------------------------------------------------------
# With ``type: bare_destination`` ejabberd picks slot ``erlang:phash2({User, Server, <<>>}, N)``
# of the stanza's bare ``to`` (lower-cased). The functions below compute the same value (Erlang's
# portable term hash for a tuple of binaries, bit for bit), so a JID can be minted in a chosen slot:
# the support desk gives a conversation the slot of its queue, so both reach the same process.
_MASK = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    """Bob Jenkins' 96-bit mix, as Erlang's term hash uses it."""
    for shift_a, shift_b, shift_c in ((13, 8, 13), (12, 16, 5), (3, 10, 15)):
        a = ((a - b - c) & _MASK) ^ (c >> shift_a)
        b = ((b - c - a) & _MASK) ^ ((a << shift_b) & _MASK)
        c = ((c - a - b) & _MASK) ^ (b >> shift_c)
    return a, b, c


def _hash_bytes(data: bytes, initial: int) -> int:
    """Jenkins' lookup2 over ``data`` (little-endian words), seeded with the hash so far."""
    a, b, c = _GOLDEN, _GOLDEN, initial
    whole = len(data) - len(data) % 12
    for i in range(0, whole, 12):
        a = (a + int.from_bytes(data[i:i + 4], "little")) & _MASK
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & _MASK
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & _MASK
        a, b, c = _mix(a, b, c)
    tail = data[whole:] + bytes(12 - (len(data) - whole))
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    # The low byte of c takes the length; the last bytes go above it.
    c = (c + len(data) + (int.from_bytes(tail[8:11], "little") << 8)) & _MASK
    return _mix(a, b, c)[2]


def term_hash(parts: tuple[bytes, ...]) -> int:
    """``erlang:phash2`` (full 32 bits) of a tuple of binaries."""
    tuple_const, binary_const = (_GOLDEN * 9) & _MASK, (_GOLDEN * 13) & _MASK
    value = _mix((tuple_const + len(parts)) & _MASK, tuple_const, 0)[2]
    for part in parts:
        start = (binary_const + value) & _MASK
        value = _hash_bytes(part, start) if part else start
    return value


def slot_of(bare_jid: str, slots: int) -> int:
    """The slot (0…N-1) ejabberd's ``bare_destination`` balancing routes ``bare_jid`` to."""
    user, _, server = bare_jid.lower().rpartition("@")
    return term_hash((user.encode(), server.encode(), b"")) % slots


class BalancingError(Exception):
    """This process may not open the slots it was configured with.

    ``lasting``: only a person can fix it (a wrong N: exit status 2, a service manager does not
    retry); otherwise a retry may succeed (a slot still held by a killed process whose database
    session the server has not closed yet: exit status 1, restarted).
    """

    def __init__(self, message: str, lasting: bool) -> None:
        super().__init__(message)
        self.lasting = lasting


def lock_key(database: str, domain: str, kind: str) -> int:
    """A signed 32-bit key per (database, domain, kind): advisory locks span the PostgreSQL cluster,
    so two deployments in one cluster (other databases) never see each other's slots."""
    value = zlib.crc32(f"switchboard\0{database}\0{domain}\0{kind}".encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def needs_claims(config: Config) -> bool:
    """Claims matter only where balancing is configured, on a database several processes share."""
    balancing = config.balancing
    return not config.database_url.startswith("sqlite") and (
        balancing.slots > 1 or balancing.process_slots is not None)


def check_shareable(config: Config, key: str, order: list[tuple[type, Any]]) -> None:
    """Refuse plugins that cannot yet run on a domain whose slots several processes share."""
    if not config.balancing.shared:
        return
    for cls, _options in order:
        if not cls.shares_domain:
            raise ConfigError(config.source, f"{key}.{cls.name}",
                              f"plugin {cls.name} cannot yet share its domain with other processes; serve "
                              "this domain from one process (a configuration of its own, without "
                              "balancing.process_slots)")
