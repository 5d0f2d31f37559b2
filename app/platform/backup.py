"""Backups: a consistent copy of the live database, taken while the app keeps serving.

SQLite is copied with SQLite's online backup API from a read-only connection, so the copy is one
consistent snapshot even while patients and staff write, and the live file is never written by the
backup. PostgreSQL is dumped with ``pg_dump`` in its custom format (one snapshot; restore with
``pg_restore``); the connection details go to it through the environment, so the password never
appears on a command line, where other users of the machine could read it.

The copy is written to a temporary file next to the target and only then moved into place, so a
failed backup never leaves a half-written file under the target's name.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

# libpq reads these; anything in the URL's query string that is not here is refused rather than ignored,
# so a backup never silently connects differently from the app.
_LIBPQ_QUERY_ENV = {
    "host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "sslcrl": "PGSSLCRL", "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME", "target_session_attrs": "PGTARGETSESSIONATTRS", "options": "PGOPTIONS",
    "gssencmode": "PGGSSENCMODE", "service": "PGSERVICE", "passfile": "PGPASSFILE",
}
# Connection settings inherited from the shell are dropped, so only the app's URL decides where to connect.
_INHERITED_CONNECTION_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSERVICE")


class BackupError(RuntimeError):
    """The backup could not be written; nothing was left under the target's name."""


@dataclass(frozen=True)
class BackupResult:
    """What was written: the file, its size, and which kind of database it came from."""

    path: Path
    size: int
    dialect: str


def backup_database(url: str | URL, target: Path, *, force: bool = False, pg_dump: str = "pg_dump") -> BackupResult:
    """Write a consistent copy of the database at ``url`` to ``target``.

    Refuses an existing ``target`` unless ``force``, and never writes over the live database itself.
    """
    database_url = make_url(url)
    target = Path(target).expanduser().absolute()
    if target.is_dir():
        raise BackupError(f"{target} is a directory; give a file name")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    if target.exists() and not force:
        raise BackupError(f"{target} already exists; use --force to replace it")
    backend = database_url.get_backend_name()
    if backend == "sqlite":
        source = sqlite_file(database_url)
        if target.exists() and target.samefile(source):
            raise BackupError("the target is the live database itself")
        _write_atomically(target, force, lambda temporary: _copy_sqlite(source, temporary))
    elif backend == "postgresql":
        _write_atomically(target, force, lambda temporary: _dump_postgresql(database_url, temporary, pg_dump))
    else:
        raise BackupError(f"backups of {backend} databases are not supported")
    return BackupResult(target, target.stat().st_size, backend)


def _write_atomically(target: Path, force: bool, write: Callable[[Path], None]) -> None:
    """Run ``write`` on a private temporary file beside ``target``, then move it into place."""
    # mkstemp creates the file readable by its owner only: a backup holds patient data.
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        if force:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)  # fails if the target appeared meanwhile: never overwrites
            except FileExistsError:
                raise BackupError(f"{target} already exists; use --force to replace it") from None
    finally:
        temporary.unlink(missing_ok=True)


def sqlite_file(url: URL) -> Path:
    """The file of a SQLite URL; refused when it is in memory or missing."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise BackupError("only a SQLite database in a file can be backed up")
    path = Path(database).absolute()
    if not path.is_file():
        raise BackupError(f"the database file {path} does not exist")
    return path


def _copy_sqlite(source: Path, destination: Path) -> None:
    """Copy with the online backup API in one step (one snapshot), then check the copy is sound.

    One step holds a read lock for the length of the copy; writers wait for it (within their busy
    timeout) instead of restarting the copy, which a stepwise backup would do after every write.
    """
    # mode=ro: the backup can never change the live database, nor create an empty one by mistake.
    with closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=30)) as live, \
            closing(sqlite3.connect(destination)) as copy:
        live.backup(copy, pages=-1)
        result = copy.execute("PRAGMA integrity_check").fetchall()
    if result != [("ok",)]:
        raise BackupError(f"the copy failed its integrity check: {result[:3]}")


def pg_environment(url: URL, base: Mapping[str, str]) -> dict[str, str]:
    """libpq environment variables for ``url`` (password included) on top of ``base``."""
    env = {key: value for key, value in base.items() if key not in _INHERITED_CONNECTION_ENV}
    for key, value in url.query.items():
        if key not in _LIBPQ_QUERY_ENV:
            raise BackupError(f"the database URL option {key!r} is not understood by the backup")
        env[_LIBPQ_QUERY_ENV[key]] = value if isinstance(value, str) else value[-1]
    for name, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                        ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value is not None and value != "":
            env[name] = str(value)
    return env


def _dump_postgresql(url: URL, destination: Path, pg_dump: str) -> None:
    """``pg_dump --format=custom`` into ``destination``; connection details only in the environment."""
    executable = shutil.which(pg_dump)
    if executable is None:
        raise BackupError(f"{pg_dump} was not found; install the PostgreSQL client tools")
    # No connection options on the command line: a database or user name starting with "-" cannot be
    # read as an option, and nothing secret shows in the process list. --no-password: never prompt.
    command = [executable, "--format=custom", "--no-password", f"--file={destination}"]
    completed = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        command, env=pg_environment(url, os.environ), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        message = (completed.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"pg_dump failed (exit {completed.returncode}): {message}")
    if destination.stat().st_size == 0:
        raise BackupError("pg_dump wrote nothing")
