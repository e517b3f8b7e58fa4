"""Storage of the web channel: conversation tokens (as hashes) and each ticket's page context."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import Float, Index, String, Text, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from component.storage import Base, Database

TABLES = ("support_web_tokens", "support_web_context")


class WebToken(Base):
    __tablename__ = "support_web_tokens"
    __table_args__ = (Index("ix_support_web_tokens_ticket", "ticket"),)

    #: SHA-256 of the token: a stolen database does not hand out conversations.
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(1023))
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class WebContext(Base):
    __tablename__ = "support_web_context"

    ticket: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def issue(self, ticket: str, queue: str, now: float, keep: int) -> str:
        """A new token for ``ticket`` (256 random bits); all but the ``keep`` newest are revoked."""
        token = secrets.token_urlsafe(32)
        # Writes only, the insert first: a SQLite transaction that begins by reading cannot take
        # the write lock while another connection commits (it fails at once with "locked").
        async with self.db.session() as session:
            session.add(WebToken(digest=digest(token), ticket=ticket, queue=queue, created_at=now))
            await session.flush()
            newest = select(WebToken.digest).where(WebToken.ticket == ticket, WebToken.revoked_at.is_(None)) \
                .order_by(WebToken.created_at.desc()).limit(keep).scalar_subquery()
            await session.execute(update(WebToken).where(
                WebToken.ticket == ticket, WebToken.revoked_at.is_(None), WebToken.digest.not_in(newest))
                .values(revoked_at=now))
        return token

    async def lookup(self, token: str) -> WebToken | None:
        """The live token row, or None (unknown or revoked)."""
        async with self.db.session() as session:
            row = await session.get(WebToken, digest(token))
            return row if row is not None and row.revoked_at is None else None

    async def revoke(self, token: str, now: float) -> bool:
        async with self.db.session() as session:
            result = await session.execute(update(WebToken).where(
                WebToken.digest == digest(token), WebToken.revoked_at.is_(None)).values(revoked_at=now))
            return bool(result.rowcount)

    async def revoke_ticket(self, ticket: str, now: float) -> None:
        async with self.db.session() as session:
            await session.execute(update(WebToken).where(
                WebToken.ticket == ticket, WebToken.revoked_at.is_(None)).values(revoked_at=now))

    async def set_context(self, ticket: str, data: dict[str, Any], now: float) -> None:
        async with self.db.session() as session:  # write first, as in issue()
            await session.execute(delete(WebContext).where(WebContext.ticket == ticket))
            session.add(WebContext(ticket=ticket, data=json.dumps(data, ensure_ascii=False), updated_at=now))

    async def context(self, ticket: str) -> dict[str, Any] | None:
        async with self.db.session() as session:
            row = await session.get(WebContext, ticket)
            return json.loads(row.data) if row else None
