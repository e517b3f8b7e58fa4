"""Would ejabberd fan out a component's broadcast itself? ``mod_multicast`` (XEP-0033), measured.

A raw XEP-0114 connection for ``rooms.localhost`` sends the same groupchat message to N
logged-in clients two ways: one stanza per recipient (what the MUC does today), and one stanza
to ejabberd's multicast service with the recipients as ``bcc`` addresses. For each: whether the
clients receive it from the occupant JID without the address list, and ejabberd's CPU per
delivery. No Switchboard process is involved: this is ejabberd's side of the cost only.

    python -m bench.ejabberd_multicast [recipients] [messages]
"""

from __future__ import annotations

import hashlib
import json
import re
import select
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .ejabberd import ARCHIVE_DDL, BenchEjabberd
from .procstat import cpu_seconds
from .rawxmpp import RawClient
from .stack import HOST, ROOMS, SECRETS

MULTICAST = f"multicast.{HOST}"
# Limits for local and remote senders alike (which one a component domain counts as was not checked).
MODULE = (f"  mod_multicast:\n    host: \"{MULTICAST}\"\n    limits:\n      local:\n        message: infinite\n"
          "        presence: infinite\n      remote:\n        message: infinite\n        presence: infinite\n")
NS_ADDRESS = "http://jabber.org/protocol/address"
MARK = b"<body>B "
BODY = "<stanza-id xmlns='urn:xmpp:sid:0' by='room1@{rooms}' id='s{k}'/><body>B 0.0.{k}.1</body>"


def _component(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' "
                 f"to='{ROOMS}'>".encode())
    head = b""
    while b"id=" not in head:
        head += sock.recv(4096)
    sid = re.search(rb"id=['\"]([^'\"]+)", head).group(1).decode()
    digest = hashlib.sha1((sid + SECRETS[ROOMS]).encode()).hexdigest()
    sock.sendall(f"<handshake>{digest}</handshake>".encode())
    answer = b""
    while b"handshake" not in answer:
        answer += sock.recv(4096)
    if b"<handshake/>" not in answer:
        raise RuntimeError(f"component handshake refused: {answer[:300]!r}")
    return sock


def _deliver(sock: socket.socket, clients: list[RawClient], data: bytes, expected: int, pid: int) -> dict[str, Any]:
    before, start = cpu_seconds(pid), time.monotonic()
    sock.sendall(data)
    total, deadline, socks = 0, time.monotonic() + 120, [c.sock for c in clients]
    tails = {s: b"" for s in socks}
    while total < expected and time.monotonic() < deadline:
        ready, _, _ = select.select(socks, [], [], 1)
        for s in ready:
            # A marker cut by a read boundary is completed by the previous read's tail.
            buf = tails[s] + s.recv(1 << 20)
            total += buf.count(MARK) - tails[s].count(MARK)
            tails[s] = buf[-len(MARK):]
    cpu = cpu_seconds(pid) - before
    return {"deliveries": total, "seconds": time.monotonic() - start,
            "ejabberd_us_per_delivery": cpu / total * 1e6 if total else float("nan")}


def run(recipients: int = 20, messages: int = 2000) -> dict[str, Any]:
    from component.localpostgres import LocalPostgres

    state = Path(tempfile.mkdtemp(prefix="switchboard-multicast-"))
    state.chmod(0o711)
    pg = LocalPostgres(state / "postgres")
    pg.start()
    try:
        pg.create_database("ejabberd")
        pg.psql(ARCHIVE_DDL, "ejabberd")
        ej = BenchEjabberd(state / "ejabberd", pg, "ejabberd", extra_modules=MODULE)
        ej.start()
        try:
            users = [f"mc{i}" for i in range(recipients)]
            for user in users:
                ej.server.register(user, "bench-password")
            clients = [RawClient(ej.server.ports.c2s, u, "bench-password", "b").login() for u in users]
            comp = _component(ej.server.ports.component)
            bcc = "".join(f"<address type='bcc' jid='{u}@{HOST}/b'/>" for u in users)

            def multicast(k: int) -> str:
                return (f"<message from='room1@{ROOMS}/nick' to='{MULTICAST}' type='groupchat' id='m{k}'>"
                        f"<addresses xmlns='{NS_ADDRESS}'>{bcc}</addresses>{BODY.format(rooms=ROOMS, k=k)}</message>")

            def each(k: int) -> str:
                return "".join(f"<message from='room1@{ROOMS}/nick' to='{u}@{HOST}/b' type='groupchat' id='e{k}'>"
                               f"{BODY.format(rooms=ROOMS, k=k)}</message>" for u in users)

            comp.sendall(multicast(0).encode())
            time.sleep(1.0)
            seen = [c.drain(0.3) for c in clients]
            sample = seen[0][seen[0].rfind(b"<message"):].decode("utf-8", "replace")
            out: dict[str, Any] = {
                "recipients": recipients, "messages": messages,
                "received_first": sum(1 for s in seen if b"B 0.0.0.1" in s), "sample": sample,
                "from_kept": f"from='room1@{ROOMS}/nick'" in sample, "addresses_stripped": NS_ADDRESS not in sample}
            for c in clients:
                c.sock.setblocking(False)
            expected = recipients * messages
            # A B B A: a drift of the shared machine's load weighs on both alike.
            for name, build in (("one_stanza_per_recipient", each), ("multicast", multicast),
                                ("multicast", multicast), ("one_stanza_per_recipient", each)):
                data = "".join(build(k) for k in range(1, messages + 1)).encode()
                out.setdefault(name, []).append(_deliver(comp, clients, data, expected, ej.pid))
            for name in ("one_stanza_per_recipient", "multicast"):
                runs = out[name]
                out[f"{name}_us"] = sum(r["ejabberd_us_per_delivery"] for r in runs) / len(runs)
            out["ratio"] = out["multicast_us"] / out["one_stanza_per_recipient_us"]
            return out
        finally:
            ej.stop()
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(run(*args), indent=1))
