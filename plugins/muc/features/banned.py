"""Outcasts (XEP-0045 7.2.8): a banned user cannot enter (forbidden)."""

from __future__ import annotations

from component.errors import StanzaError

from ..events import BAN
from . import Feature, JoinRequest


class Banned(Feature):
    join_priority = BAN
    def check_join(self, join: JoinRequest) -> None:
        if join.affiliation == "outcast":
            raise StanzaError("forbidden", "you are banned from this room")
