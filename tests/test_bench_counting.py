"""The load generator's counting handler: every delivery once, whatever the read boundaries."""

from __future__ import annotations

import pytest

from bench.loadgen import count_deliveries


def _stream(senders: list[int], wid: int = 0) -> bytes:
    return b"".join(b"<message from='r@rooms.localhost/n%d' type='groupchat' id='%d'><stanza-id id='x%d'/>"
                    b"<body>B %d.%d.%d.%d</body></message>" % (c, n, n, wid, c, n, 10**15 + n)
                    for n, c in enumerate(senders))


@pytest.mark.parametrize("size", [1, 2, 7, 8, 9, 13, 31, 32, 33, 100, 10**6])
def test_counts_split_markers_once(size: int) -> None:
    # Client 1's own reflections among client 11's and client 10's: "0.1." must not match "0.11." / "0.10.".
    senders = [1, 11, 10, 1, 1, 11, 2, 1] * 7
    stream = _stream(senders)
    chunks = [stream[i:i + size] for i in range(0, len(stream), size)]
    assert count_deliveries(chunks, sender=1) == (len(senders), senders.count(1))


def test_other_workers_messages_are_not_own() -> None:
    # Worker 1's client 1 wrote these: for worker 0's client 1 they are deliveries, not reflections.
    assert count_deliveries([_stream([1, 1, 1], wid=1)], wid=0, sender=1) == (3, 0)


def test_text_without_markers_counts_nothing() -> None:
    assert count_deliveries([b"<presence from='r@x/n'/>", b"<body>hello</body>", b"<body>B"], sender=0) == (0, 0)
