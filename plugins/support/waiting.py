"""A queue's waiting customers in routing order: priority first, then arrival.

Joining, leaving, a change of priority and a customer's position each cost O(log n), so a queue
holding ten thousand customers answers as fast as one holding ten. Entries are ticket ids with
their sort key (``Ticket.sort_key``: minus the priority, the time queued, the id); the id makes
every key distinct, so "ahead of you" is simply the number of smaller keys.
"""

from __future__ import annotations

from typing import Iterator

from sortedcontainers import SortedList

Key = tuple[int, float, str]


class WaitingList:
    def __init__(self) -> None:
        self._order: SortedList = SortedList()          # keys, in routing order
        self._since: SortedList = SortedList()          # (time queued, id): the oldest waiting
        self._keys: dict[str, Key] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._keys

    def __iter__(self) -> Iterator[str]:
        """Ticket ids in routing order (a snapshot: safe to change the list while iterating)."""
        return iter([key[2] for key in self._order])

    def put(self, ticket_id: str, key: Key) -> None:
        """Add a ticket, or move it when its key changed (a new priority)."""
        old = self._keys.get(ticket_id)
        if old == key:
            return
        if old is not None:
            self.discard(ticket_id)
        self._keys[ticket_id] = key
        self._order.add(key)
        self._since.add((key[1], ticket_id))

    def discard(self, ticket_id: str) -> None:
        key = self._keys.pop(ticket_id, None)
        if key is not None:
            self._order.remove(key)
            self._since.remove((key[1], ticket_id))

    def ahead(self, ticket_id: str) -> int:
        """How many waiting tickets come before this one (0: it is next)."""
        return self._order.bisect_left(self._keys[ticket_id])

    def rank(self, key: Key) -> int:
        """How many waiting tickets come before a ticket with this key (listed or not)."""
        return self._order.bisect_left(key)

    def at(self, index: int) -> str | None:
        """The ticket id at a position, None past the end."""
        return self._order[index][2] if 0 <= index < len(self._order) else None

    def oldest(self) -> float | None:
        """When the longest-waiting ticket was queued."""
        return self._since[0][0] if self._since else None

    def ids(self, start: int = 0, stop: int | None = None) -> list[str]:
        """Ticket ids in routing order, from position ``start`` to ``stop`` (O(log n) to find the start)."""
        return [key[2] for key in self._order.islice(start, stop)]
