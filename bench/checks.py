"""Databases for a run, and what the database holds afterwards, read through the app itself.

Contact details are stored AES-GCM encrypted, so the markers are read by loading the requests through
``create_app`` with the same ``DATABASE_URL`` and keys as the server (the development keys unless
``DATA_ENCRYPTION_KEYS``/``BLIND_INDEX_KEY`` are set in the environment, which the server inherits).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.pool import NullPool

from bench.patient_client import MARKER_PATTERN


@dataclass
class Stored:
    """The consultation requests found in the database: marker -> references (one each, if all is well)."""

    references: dict[str, list[str]]
    requests: int  # every consultation request row
    unmarked: int  # rows without a marker of this run

    @property
    def duplicated(self) -> int:
        """Markers stored more than once."""
        return sum(1 for refs in self.references.values() if len(refs) > 1)


def sqlite_database(directory: Path) -> str:
    """The URL of a new SQLite file in ``directory`` (not yet migrated)."""
    return f"sqlite:///{directory / 'bench.sqlite3'}"


def new_database(kind: str, work: Path) -> str:
    """A new, empty database for a bench run: a SQLite file in ``work``, or a PostgreSQL database on the server of
    TEST_DATABASE_URL (scripts/with-postgres.sh sets it); its URL."""
    if kind != "postgres":
        return sqlite_database(work)
    server_url = os.environ.get("TEST_DATABASE_URL", "")
    if not server_url.startswith("postgresql"):
        raise SystemExit("--database postgres needs TEST_DATABASE_URL (run under scripts/with-postgres.sh)")
    return create_postgres_database(server_url)


def create_postgres_database(server_url: str) -> str:
    """Create a fresh, empty database on the PostgreSQL server of ``server_url``; return its URL."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(make_url(server_url).set(database="postgres"), poolclass=NullPool,
                           isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    finally:
        engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database made by ``create_postgres_database``."""
    parsed = make_url(url)
    engine = create_engine(parsed.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {parsed.database} WITH (FORCE)"))
    finally:
        engine.dispose()


def stored_requests(database_url: str, run_id: str) -> Stored:
    """Read every consultation request through the app (decrypting the message) and group them by marker."""
    from app import create_app
    from app.extensions import db
    from app.models import ConsultationRequest
    from config import DevelopmentConfig

    app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=database_url, MAIL_DELIVER_IN_BACKGROUND=False)
    references: dict[str, list[str]] = {}
    rows = unmarked = 0
    with app.app_context():
        try:
            query = select(ConsultationRequest.reference, ConsultationRequest.message)
            for reference, message in db.session.execute(query):
                rows += 1
                match = MARKER_PATTERN.search(message or "")
                if match is None or not match.group(1).startswith(f"{run_id}-"):
                    unmarked += 1
                    continue
                references.setdefault(match.group(1), []).append(reference)
        finally:
            db.session.remove()
            db.engine.dispose()
    return Stored(references, rows, unmarked)


def sqlite_integrity(database_url: str) -> list[str]:
    """``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check`` on a SQLite file: [] when all is well."""
    path = make_url(database_url).database
    assert path, "not a SQLite file URL"  # noqa: S101
    connection = sqlite3.connect(path)
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [f"foreign key: {row}" for row in connection.execute("PRAGMA foreign_key_check")]
    finally:
        connection.close()
    return problems


def count_statuses(access_log: Path) -> Counter[int]:
    """Responses per status code, as gunicorn's access log saw them (lines cut by a kill are skipped)."""
    counts: Counter[int] = Counter()
    if not access_log.exists():
        return counts
    for line in access_log.read_text(errors="replace").splitlines():
        parts = line.rsplit('" ', 1)
        if len(parts) == 2 and parts[1][:3].isdigit():
            counts[int(parts[1][:3])] += 1
    return counts
