"""``switchboard migrate`` and ``switchboard backup``: the database chores of an operator.

Migrations also run at every start; running them explicitly lets an operator
upgrade the schema before starting a new version (and see what changed).
A backup of SQLite uses SQLite's online backup API, which copies a consistent
snapshot page by page while the component keeps writing (WAL mode); for
PostgreSQL the right tool is ``pg_dump``, whose command line is printed.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import make_url

from .app import migration_histories
from .cli_kit import EXIT_FAILED
from .config import Config
from .plugin import resolve
from .storage import Database

#: Pages copied per step of the online backup; between steps the writer may go on.
BACKUP_PAGES = 1024


async def migrate(config: Config, out: TextIO) -> int:
    orders = [resolve(s.plugins, config.source, f"services[{i}].plugins") for i, s in enumerate(config.services)]
    db = Database(config.database_url, config.database.sqlite_synchronous)
    try:
        applied = await db.migrate(migration_histories(orders))
    finally:
        await db.close()
    for plugin, (before, after) in applied.items():
        state = "up to date" if before == after else f"migrated {before} -> {after}"
        out.write(f"{plugin:<16} schema version {after}: {state}\n")
    return 0


def _sqlite_backup(source: str, target: Path) -> tuple[int, str]:
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=BACKUP_PAGES)
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            # A standalone file: no -wal beside it to lose.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, target)  # nobody sees half a backup under the final name
    return target.stat().st_size, check


async def backup(config: Config, output: str, out: TextIO, err: TextIO) -> int:
    url = make_url(config.database_url)
    if url.get_backend_name() != "sqlite":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=True)
        err.write("switchboard backup: the database is PostgreSQL; back it up with pg_dump, which takes a "
                  "consistent snapshot while the component runs:\n"
                  f"  pg_dump --format=custom --file={output} '{dsn}'\n"
                  "(the password from PGPASSWORD or ~/.pgpass; restore with pg_restore)\n")
        return EXIT_FAILED
    database = url.database or ""
    if not database or database == ":memory:" or not Path(database).exists():
        err.write(f"switchboard backup: no database at {database or '(none)'}; has the component run with "
                  f"this configuration?\n")
        return EXIT_FAILED
    target = Path(output)
    if target.exists():
        err.write(f"switchboard backup: {target} exists; choose a new file\n")
        return EXIT_FAILED
    if Path(database).resolve() == target.resolve():
        err.write("switchboard backup: the backup cannot be the database itself\n")
        return EXIT_FAILED
    size, check = await asyncio.to_thread(_sqlite_backup, database, target)
    if check != "ok":
        err.write(f"switchboard backup: integrity check of the copy failed: {check}\n")
        return EXIT_FAILED
    out.write(f"backed up {database} to {target} ({size} bytes, integrity ok)\n")
    return 0
