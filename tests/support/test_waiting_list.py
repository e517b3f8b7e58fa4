"""A queue's waiting list against a plain reference model: order, positions, priorities, removal,
transfer between queues."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.support.waiting import WaitingList

QUEUES = ("help", "sales")
IDS = st.sampled_from([f"t{n:02d}" for n in range(12)])
PRIORITY = st.integers(min_value=-2, max_value=2)
TIME = st.integers(min_value=0, max_value=5).map(float)  # few values: many ties, broken by the id

OPS = st.one_of(
    st.tuples(st.just("join"), st.sampled_from(QUEUES), IDS, PRIORITY, TIME),
    st.tuples(st.just("leave"), IDS),
    st.tuples(st.just("priority"), IDS, PRIORITY),
    st.tuples(st.just("transfer"), IDS, st.sampled_from(QUEUES)),
)


def key(priority: int, at: float, ticket: str) -> tuple[int, float, str]:
    return (-priority, at, ticket)  # as Ticket.sort_key


@settings(max_examples=300, deadline=None)
@given(st.lists(OPS, max_size=60))
def test_waiting_lists_match_a_sorted_reference(ops):
    lists = {q: WaitingList() for q in QUEUES}
    model: dict[str, tuple[str, int, float]] = {}   # ticket -> (queue, priority, time queued)
    for op in ops:
        if op[0] == "join":
            _, queue, ticket, priority, at = op
            if ticket in model:
                continue  # one open ticket per id
            model[ticket] = (queue, priority, at)
            lists[queue].put(ticket, key(priority, at, ticket))
        elif op[0] == "leave":
            ticket = op[1]
            if ticket in model:
                queue = model.pop(ticket)[0]
                lists[queue].discard(ticket)
            else:
                for waiting in lists.values():
                    waiting.discard(ticket)  # unknown: nothing happens
        elif op[0] == "priority" and op[1] in model:
            _, ticket, priority = op
            queue, _, at = model[ticket]
            model[ticket] = (queue, priority, at)
            lists[queue].put(ticket, key(priority, at, ticket))
        elif op[0] == "transfer" and op[1] in model:
            _, ticket, to = op
            queue, priority, at = model[ticket]
            lists[queue].discard(ticket)
            model[ticket] = (to, priority, at)
            lists[to].put(ticket, key(priority, at, ticket))
        for queue, waiting in lists.items():
            expected = sorted((key(p, at, t) for t, (q, p, at) in model.items() if q == queue))
            order = [k[2] for k in expected]
            assert waiting.ids() == order == list(waiting)
            assert len(waiting) == len(order)
            for position, ticket in enumerate(order):
                assert ticket in waiting
                assert waiting.ahead(ticket) == position
                assert waiting.at(position) == ticket
                assert waiting.rank(expected[position]) == position
            assert waiting.at(len(order)) is None
            assert waiting.oldest() == min((k[1] for k in expected), default=None)
            assert not any(t in waiting for t, (q, *_r) in model.items() if q != queue)


def test_a_higher_priority_goes_first_and_equal_ones_keep_their_arrival():
    waiting = WaitingList()
    waiting.put("b", key(0, 2.0, "b"))
    waiting.put("a", key(0, 1.0, "a"))
    waiting.put("c", key(5, 3.0, "c"))
    assert waiting.ids() == ["c", "a", "b"]
    waiting.put("c", key(0, 3.0, "c"))          # priority back to normal: last again
    assert waiting.ids() == ["a", "b", "c"] and waiting.ahead("c") == 2
    waiting.discard("a")
    waiting.discard("a")                         # twice: nothing
    assert waiting.ids() == ["b", "c"] and waiting.oldest() == 2.0
