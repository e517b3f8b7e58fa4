"""The archive's tables and the SQL that reads them, the same on every engine.

``mam_messages`` holds one row per archived message; ``mam_archives`` one row per archive (its
message count and retention policy). See store.py for how they are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from component.storage import Base


class MamMessage(Base):
    __tablename__ = "mam_messages"

    # A rowid table with a separate (archive, stanza_id) index keeps the index
    # small (no message text in it), which makes counts index-only scans.
    row: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    archive: Mapped[str] = mapped_column(String(3071))
    stanza_id: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[float] = mapped_column(Float)
    author: Mapped[str] = mapped_column(String(3071), default="")
    with_jid: Mapped[str] = mapped_column(String(3071), default="")
    with_bare: Mapped[str] = mapped_column(String(3071), default="")
    occupant_id: Mapped[str] = mapped_column(String(255), default="")
    origin_id: Mapped[str] = mapped_column(String(255), default="")
    client_id: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16), default="groupchat")
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)
    stanza: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_mam_messages_archive_stanza_id", "archive", "stanza_id", unique=True),
        # Recall of 1:1 messages finds them by the sender's origin-id.
        Index("ix_mam_messages_archive_origin_id", "archive", "origin_id",
              sqlite_where=literal_column("origin_id") != "",
              postgresql_where=literal_column("origin_id") != ""),
    )


class MamArchive(Base):
    __tablename__ = "mam_archives"

    archive: Mapped[str] = mapped_column(String(3071), primary_key=True)
    domain: Mapped[str] = mapped_column(String(1023), index=True)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    #: None = the service's global policy; 0 = keep forever.
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_messages: Mapped[int | None] = mapped_column(Integer, nullable=True)


M = MamMessage.__table__
A = MamArchive.__table__

@dataclass
class Filters:
    """Conditions on one archive's rows, all optional."""

    archive: str
    lower: str | None = None        #: stanza_id > lower
    lower_incl: str | None = None   #: stanza_id >= lower_incl
    upper: str | None = None        #: stanza_id < upper
    with_full: str | None = None
    with_bare: str | None = None
    author: str | None = None       #: with a bare 'with': also match the author's real JID
    ids: Sequence[str] | None = None

    def sql(self, *, lower: str | None = None, upper: str | None = None) -> tuple[str, dict[str, Any]]:
        """A WHERE clause with named parameters (understood by sqlite3 and by SQLAlchemy's text())."""
        conds = ["archive = :archive"]
        params: dict[str, Any] = {"archive": self.archive}
        for name, op, value in (("lo", ">", self.lower), ("lo2", ">", lower), ("loi", ">=", self.lower_incl),
                                ("up", "<", self.upper), ("up2", "<", upper)):
            if value is not None:
                conds.append(f"stanza_id {op} :{name}")
                params[name] = value
        if self.with_full is not None:
            conds.append("with_jid = :with_full")
            params["with_full"] = self.with_full
        if self.with_bare is not None:
            params["with_bare"] = self.with_bare
            if self.author is not None:
                conds.append("(with_bare = :with_bare OR author = :author)")
                params["author"] = self.author
            else:
                conds.append("with_bare = :with_bare")
        if self.ids is not None:
            names = []
            for i, value in enumerate(self.ids):
                names.append(f":id{i}")
                params[f"id{i}"] = value
            conds.append(f"stanza_id IN ({', '.join(names) or 'NULL'})")
        return " AND ".join(conds), params

    @property
    def narrows(self) -> bool:
        """Whether the filters select less than the whole archive."""
        return any(v is not None for v in (self.lower, self.lower_incl, self.upper, self.with_full,
                                           self.with_bare, self.ids))


Execute = Callable[[str, dict[str, Any]], list[tuple[Any, ...]]]

#: Columns of a result row, in this order (see service._record).
ROW = "stanza_id, timestamp, stanza, author, with_jid, occupant_id, origin_id, client_id, kind, retracted, archive"


class SqlReader:
    """Every read of the archive as SQL text, run inside one read transaction.

    The same statements run on a raw sqlite3 connection (in the reader
    thread: one hand-off per query however many statements) and on an
    SQLAlchemy connection (PostgreSQL), through ``execute(sql, params)``.
    """

    def __init__(self, execute: Execute) -> None:
        self.execute = execute

    def _scalar(self, sql: str, params: dict[str, Any]) -> Any:
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    def get(self, archive: str, stanza_id: str) -> tuple[Any, ...] | None:
        rows = self.execute(f"SELECT {ROW} FROM mam_messages WHERE archive = :archive AND stanza_id = :sid",
                            {"archive": archive, "sid": stanza_id})
        return rows[0] if rows else None

    def find_by_origin_id(self, archive: str, author: str | None, origin_id: str) -> tuple[Any, ...] | None:
        params = {"archive": archive, "origin": origin_id}
        by_author = ""
        if author is not None:
            by_author, params["author"] = "AND author = :author ", author
        rows = self.execute(f"SELECT {ROW} FROM mam_messages WHERE archive = :archive AND origin_id = :origin "
                            f"AND origin_id != '' {by_author}ORDER BY stanza_id DESC LIMIT 1", params)
        return rows[0] if rows else None

    def referring(self, archive: str, after_id: str, markers: Iterable[str]) -> list[tuple[Any, ...]]:
        """Rows after ``after_id`` whose text holds one of ``markers`` (namespaces), oldest first."""
        params: dict[str, Any] = {"archive": archive, "sid": after_id}
        likes = []
        for n, marker in enumerate(markers):
            params[f"m{n}"] = f"%{marker}%"
            likes.append(f"stanza LIKE :m{n}")
        return self.execute(f"SELECT {ROW} FROM mam_messages WHERE archive = :archive AND stanza_id > :sid "
                            f"AND NOT retracted AND ({' OR '.join(likes)}) ORDER BY stanza_id", params)

    def missing_ids(self, archive: str, ids: Iterable[str]) -> list[str]:
        wanted = sorted(set(ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            where, params = Filters(archive, ids=wanted[start:start + 500]).sql()
            found.update(r[0] for r in self.execute(f"SELECT stanza_id FROM mam_messages WHERE {where}", params))
        return [i for i in wanted if i not in found]

    def page(self, filters: Filters, limit: int, *, backward: bool, offset: int = 0, lower: str | None = None,
             upper: str | None = None) -> list[tuple[Any, ...]]:
        where, params = filters.sql(lower=lower, upper=upper)
        params.update(limit=limit, offset=offset)
        order = "DESC" if backward else "ASC"
        return self.execute(f"SELECT {ROW} FROM mam_messages WHERE {where} ORDER BY stanza_id {order} "
                            "LIMIT :limit OFFSET :offset", params)

    def count(self, filters: Filters, *, lower: str | None = None, upper: str | None = None,
              at_most: int | None = None) -> int:
        """Matching rows; with ``at_most``, counting stops there (a bounded index walk)."""
        where, params = filters.sql(lower=lower, upper=upper)
        if at_most is None:
            return int(self._scalar(f"SELECT count(*) FROM mam_messages WHERE {where}", params))
        params["at_most"] = at_most
        return int(self._scalar(f"SELECT count(*) FROM (SELECT 1 FROM mam_messages WHERE {where} "
                                "LIMIT :at_most) AS bounded", params))

    def archive_count(self, archive: str) -> int:
        return int(self._scalar("SELECT messages FROM mam_archives WHERE archive = :archive",
                                {"archive": archive}) or 0)

    def bounds(self, archive: str) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
        first = self.page(Filters(archive), 1, backward=False)
        last = self.page(Filters(archive), 1, backward=True)
        return (first[0] if first else None, last[0] if last else None)

    def nth_newest(self, archive: str, n: int) -> str | None:
        """The id of the (n+1)-th newest message (the first one beyond a count limit of n)."""
        return self._scalar("SELECT stanza_id FROM mam_messages WHERE archive = :archive "
                            "ORDER BY stanza_id DESC LIMIT 1 OFFSET :n", {"archive": archive, "n": n})

    def policies(self, domain: str) -> list[tuple[str, int | None, int | None]]:
        rows = self.execute("SELECT archive, retention_days, max_messages FROM mam_archives "
                            "WHERE domain = :domain", {"domain": domain})
        return [(r[0], r[1], r[2]) for r in rows]

    def policy(self, archive: str) -> tuple[int | None, int | None]:
        rows = self.execute("SELECT retention_days, max_messages FROM mam_archives WHERE archive = :archive",
                            {"archive": archive})
        return (rows[0][0], rows[0][1]) if rows else (None, None)


#: Columns written for each message, in this order.
INSERT_COLUMNS = ("archive", "stanza_id", "timestamp", "author", "with_jid", "with_bare", "occupant_id",
                  "origin_id", "client_id", "kind", "retracted", "stanza")


def archive_domain(archive: str) -> str:
    return archive.rpartition("@")[2]

