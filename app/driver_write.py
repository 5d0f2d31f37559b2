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
part of a larger transaction: a caller that must write more than one thing atomically uses the session, or
``InTransaction`` below on the session's connection. No Flask import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import BindParameter, Connection, CursorResult, Engine, Table, bindparam

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
        prepared = self._for(engine.dialect)
        with lent_connection(engine, prepared.autocommit) as connection, (durability or nullcontext)(
            connection.driver_connection
        ):
            cursor = connection.cursor()
            try:
                cursor.execute(prepared.sql, prepared.parameters(values))
                return int(cursor.rowcount)
            finally:
                cursor.close()


class InTransaction(PerDialect):
    """``statement`` compiled once per dialect, run on a SQLAlchemy ``Connection`` inside the caller's transaction.

    For a write of several statements that must commit together (a consultation request and its timeline
    event): each runs through ``Connection.exec_driver_sql`` on the session's connection, so it joins the
    session's transaction and the dialect's execution hooks run (SQLite's ``BEGIN IMMEDIATE`` before the first
    write, app/database.py), but SQLAlchemy neither builds a cache key nor compiles for it. (A dialect's own
    INSERT, with ON CONFLICT, is never cached by SQLAlchemy 2.0: it was compiled afresh on every send.)
    """

    def execute(self, connection: Connection, **values: Any) -> CursorResult[Any]:
        """Run the statement with these bind parameter ``values`` (each through its column type); its result."""
        prepared = self._for(connection.dialect)
        return connection.exec_driver_sql(prepared.sql, prepared.parameters(values))  # type: ignore[arg-type]

    def first(self, connection: Connection, **values: Any) -> tuple[Any, ...] | None:
        """The first row the statement returns, each value converted by its column's type; None if none."""
        raw = self.execute(connection, **values).first()
        return None if raw is None else self._for(connection.dialect).row(tuple(raw))


def column_binds(table: Table, names: Iterable[str]) -> dict[str, BindParameter[Any]]:
    """A bind parameter named after each of ``table``'s columns ``names``, typed as the column (so the column's
    type encrypts or encodes the value): the ``values`` of an INSERT or UPDATE compiled once."""
    return {name: bindparam(name, type_=table.c[name].type) for name in names}
