"""PostgreSQL with two roles, set up with deploy/postgres/*.sql exactly as deploy/README.md says.

The owner runs the migrations (MIGRATION_DATABASE_URL); the app's runtime login reads and writes rows and can do
nothing else: not alter a table, not switch off the audit log's trigger, not delete or truncate audit rows. A
backup taken by the app restores, as the owner, into a new database where the same holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from app.extensions import db
from tests.conftest import TEST_DATABASE_URL, _maintenance, _make_app, requires_postgres
from tests.factories import seed_request

ROOT = Path(__file__).resolve().parents[1]
SQL = ROOT / "deploy" / "postgres"
# Passwords with the characters that must be percent-encoded in a URL (README: DATABASE_URL).
OWNER_PASSWORD, APP_PASSWORD = "own:er/p@ss#1", "app p@ss%w/rd?"

pytestmark = requires_postgres  # roles are PostgreSQL's


def statements(path: Path) -> list[str]:
    """The SQL statements of a deploy/postgres file (comments dropped, split on semicolons)."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def url_for(role: str, password: str, database: str) -> str:
    return make_url(TEST_DATABASE_URL).set(username=role, password=password, database=database).render_as_string(
        hide_password=False)


def _drop_everything() -> None:
    with _maintenance() as connection:
        for database in ("mild", "mild_restored"):
            connection.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        connection.execute(text("DROP ROLE IF EXISTS mild_app"))
        connection.execute(text("DROP ROLE IF EXISTS mild_owner"))


def _create_database(name: str) -> None:
    """roles.sql's database statement for ``name``, then grants.sql inside it (as the superuser)."""
    with _maintenance() as connection:
        connection.execute(text(f"CREATE DATABASE {name} OWNER mild_owner ENCODING 'UTF8' TEMPLATE template0"))
    _grant(name)


def _grant(name: str) -> None:
    engine = create_engine(make_url(TEST_DATABASE_URL).set(database=name), poolclass=NullPool,
                           isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements(SQL / "grants.sql"):
                connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def two_roles() -> Iterator[tuple[str, str]]:
    """The database ``mild`` made with roles.sql and grants.sql; (owner URL, app URL)."""
    _drop_everything()
    with _maintenance() as connection:
        for statement in statements(SQL / "roles.sql"):
            connection.execute(text(statement))
        connection.execute(text(f"ALTER ROLE mild_owner PASSWORD '{OWNER_PASSWORD}'"))
        connection.execute(text(f"ALTER ROLE mild_app PASSWORD '{APP_PASSWORD}'"))
    _grant("mild")
    yield url_for("mild_owner", OWNER_PASSWORD, "mild"), url_for("mild_app", APP_PASSWORD, "mild")
    _drop_everything()


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "flask"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def migrate(owner: str | None, app_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLASK_CONFIG": "testing", "FLASK_APP": "wsgi", "DATABASE_URL": app_url}
    env.pop("MIGRATION_DATABASE_URL", None)
    if owner:
        env["MIGRATION_DATABASE_URL"] = owner
    return flask(env, "db", "upgrade")


FORBIDDEN = [
    "ALTER TABLE audit_event DISABLE TRIGGER ALL",
    "DELETE FROM audit_event",
    "UPDATE audit_event SET action = 'login'",
    "TRUNCATE audit_event",
    "DROP TABLE consultation_request",
    "CREATE TABLE something_else (id integer)",
    "ALTER TABLE consultation_request ADD COLUMN extra text",
]


def assert_runtime_role_is_limited(app_url: str) -> None:
    engine = create_engine(app_url, poolclass=NullPool)
    try:
        for statement in FORBIDDEN:
            refused = pytest.raises(ProgrammingError, match=r"permission denied|must be owner")
            with engine.connect() as connection, refused:
                connection.execute(text(statement))
        with engine.connect() as connection:  # rows it may read
            assert connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one() >= 0
    finally:
        engine.dispose()


def test_the_runtime_role_reads_and_writes_rows_and_nothing_else(two_roles: tuple[str, str],
                                                                   tmp_path: Path) -> None:
    owner, app_url = two_roles
    refused = migrate(None, app_url)  # the runtime role cannot create the tables itself
    assert refused.returncode != 0 and "permission denied" in refused.stderr
    migrated = migrate(owner, app_url)
    assert migrated.returncode == 0, migrated.stderr
    app = _make_app(app_url)
    try:
        reference = seed_request(app, "likely")  # a request with its screening, timeline and audit row
        backup = tmp_path / "mild.dump"
        result = app.test_cli_runner().invoke(args=["backup", "--verify", str(backup)])
        assert result.exit_code == 0, result.output
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    assert_runtime_role_is_limited(app_url)

    # The restore drill: a new empty database, restored by the owner; the app's role works there and no more.
    _create_database("mild_restored")
    restored_app_url = url_for("mild_app", APP_PASSWORD, "mild_restored")
    target = _make_app(restored_app_url, MIGRATION_DATABASE_URL=url_for("mild_owner", OWNER_PASSWORD,
                                                                         "mild_restored"))
    try:
        restored = target.test_cli_runner().invoke(args=["restore", str(backup)])
        assert restored.exit_code == 0, restored.output
        seed_request(target, "possible")  # the runtime role writes to the restored tables
        with target.app_context():
            found = db.session.execute(text("SELECT reference FROM consultation_request")).scalars().all()
        assert reference in found and len(found) == 2
    finally:
        with target.app_context():
            db.session.remove()
            db.engine.dispose()
    assert_runtime_role_is_limited(restored_app_url)
