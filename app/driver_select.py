"""A Core select compiled once per database dialect and run straight on the driver's cursor.

For the hottest read only: the draft lookup of every questionnaire page's GET. Through the ORM session or a
Core connection, SQLAlchemy's per-execution work (cache key, execution context, result object) cost about a
third of that page's CPU time, several times the query itself; the statement never changes, so it is compiled
once and each call is one cursor ``execute`` on a pooled connection. The statement is still written in Core,
so its SQL, parameter style and quoting come from the dialect, and each column's type converts its value as
SQLAlchemy would (``result_processor``): a JSON column is parsed and a ``UTCDateTime`` comes back aware.

What it gives up, by design: ``before_cursor_execute``/``do_execute`` events do not run for it (none of the
app's listeners concern a read), and it always takes a connection of its own from the pool, outside any
transaction of an ORM session; callers fall back to the session when theirs may hold unwritten changes. On
PostgreSQL the select runs in autocommit, one round trip with no BEGIN before it and no ROLLBACK after.
No Flask import.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Executable, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any] | None


class Prepared:
    """What running a statement on one dialect needs: its SQL and how to convert parameters and values."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)  # noqa: S101 - a Core statement compiles to SQL
        self.sql = compiled.string
        self.compiled = compiled
        self.positional = dialect.positional
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ()) if dialect.positional else ()
        self.binds: dict[str, _Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        columns = statement.selected_columns if isinstance(statement, Select) else ()
        self.results: tuple[_Processor, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        # psycopg begins a transaction before a query unless in autocommit: a BEGIN round trip before it and a
        # ROLLBACK (or COMMIT) round trip after. A single statement needs neither: it is a transaction of its own.
        # (SQLite's connections here never begin by themselves: app/database.py.)
        self.autocommit = dialect.name == "postgresql" and dialect.driver == "psycopg"

    def parameters(self, values: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """``values`` (by bind parameter name) as the driver takes them, each through its type's processor."""
        params = self.compiled.construct_params(values)
        for name, process in self.binds.items():
            if process is not None and name in params:
                params[name] = process(params[name])
        if self.positional:
            return tuple(params[name] for name in self.names)
        return params

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        """A fetched row with each value converted by its column's type."""
        pairs = zip(self.results, raw, strict=True)
        return tuple(value if process is None else process(value) for process, value in pairs)


class PerDialect:
    """``statement`` compiled once for each database dialect it runs on.

    ``statement`` may instead map dialect names to statements, for SQL one dialect's construct must write
    (``sqlite.insert(...).on_conflict_do_nothing()``).
    """

    def __init__(self, statement: Executable | Mapping[str, Executable]) -> None:
        self.statement = statement
        # Per dialect object: an app (or a test) with several engines gets a compilation for each, and an
        # engine's compilation goes with it.
        self._prepared: weakref.WeakKeyDictionary[Dialect, Prepared] = weakref.WeakKeyDictionary()

    def _for(self, dialect: Dialect) -> Prepared:
        prepared = self._prepared.get(dialect)
        if prepared is None:
            statement = self.statement[dialect.name] if isinstance(self.statement, Mapping) else self.statement
            prepared = self._prepared[dialect] = Prepared(statement, dialect)
        return prepared


class DriverSelect(PerDialect):
    """``statement`` (a Core select with named bind parameters), run on the driver's cursor."""

    def first(self, engine: Engine, **values: Any) -> tuple[Any, ...] | None:
        """The first row for these bind parameter ``values``, converted as SQLAlchemy would; None if none."""
        prepared = self._for(engine.dialect)
        with lent_connection(engine, prepared.autocommit) as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(prepared.sql, prepared.parameters(values))
                raw = cursor.fetchone()
            finally:
                cursor.close()
        return None if raw is None else prepared.row(raw)


@contextmanager
def lent_connection(engine: Engine, autocommit: bool) -> Iterator[Any]:
    """A pooled DBAPI connection of ``engine`` (with its connect-time settings), in autocommit if asked.

    Back to the pool on leaving, which rolls back whatever the driver began; out of autocommit first, as the
    pool lent it, or discarded if it cannot be (a broken connection refuses the change).
    """
    connection = engine.raw_connection()
    try:
        if autocommit:
            connection.driver_connection.autocommit = True  # type: ignore[union-attr]
        try:
            yield connection
        finally:
            if autocommit:
                _leave_autocommit(connection)
    finally:
        connection.close()


def _leave_autocommit(connection: Any) -> None:
    try:
        connection.driver_connection.autocommit = False
    except Exception:  # a broken connection refuses the change; the pool then replaces it
        connection.invalidate()
