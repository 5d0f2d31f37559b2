"""A Core UPDATE (or INSERT, DELETE) compiled once per dialect and run on the driver as a transaction of its own.

For the hottest write only: a questionnaire page's POST saving its answers into the draft. Through the ORM
session that save was a session transaction on SQLAlchemy's connection: taking it, its execution options,
building and caching the statement, the dialect hooks, then the commit, about a third of the POST's CPU time
for a one-row UPDATE (bench/cpu_split.py, py-spy). Here it is one ``execute`` on a pooled connection in
autocommit, so the statement is the whole transaction: on PostgreSQL one round trip instead of BEGIN, UPDATE and
COMMIT; on SQLite the statement takes the write lock as it runs (waiting ``busy_timeout`` for it) and commits
as it ends. Parameters go through each column type's ``bind_processor`` as SQLAlchemy would send them.

It gives up SQLAlchemy's execution events, as ``DriverSelect`` does (the app has no listener on a draft's
write other than the SQLite durability rule, which the caller passes as ``durability``), and it can never be
part of a larger transaction: a caller that must write more than one thing atomically uses the session.
No Flask import.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import Engine

from app.driver_select import PerDialect, lent_connection


class DriverWrite(PerDialect):
    """``statement`` (a Core INSERT, UPDATE or DELETE with named bind parameters), one transaction per run."""

    def run(
        self, engine: Engine, durability: Callable[[Any], AbstractContextManager[object]] | None = None,
        **values: Any,
    ) -> int:
        """Run the statement with these bind parameter ``values`` and commit it; return the rows it matched.

        ``durability``: given the driver connection, a context the statement runs in (e.g. SQLite's
        ``synchronous`` level for a draft save, ``app.database.draft_write_durability``).
        """
        prepared = self._for(engine)
        with lent_connection(engine, prepared.autocommit) as connection, (durability or nullcontext)(
            connection.driver_connection
        ):
            cursor = connection.cursor()
            try:
                cursor.execute(prepared.sql, prepared.parameters(values))
                return int(cursor.rowcount)
            finally:
                cursor.close()
