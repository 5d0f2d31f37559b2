"""Shared fixtures: an app on a real SQLite file migrated with Alembic, its test client and CLI runner."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from config import TestingConfig


def _make_app(database: Path, **overrides: object) -> Flask:
    return create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}", **overrides)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file built once per run by ``flask db upgrade``; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = _make_app(path)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def app(tmp_path: Path, migrated_template: Path) -> Iterator[Flask]:
    """The application, configured for tests, on its own migrated SQLite file."""
    database = tmp_path / "test.sqlite3"
    shutil.copy(migrated_template, database)
    application = _make_app(database)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client that goes through the whole WSGI stack, cookies included."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """Runs the app's CLI commands in-process."""
    return app.test_cli_runner()


@pytest.fixture
def staff_client(app: Flask) -> FlaskClient:
    """A second browser, separate from the patient's ``client``."""
    return app.test_client()


@pytest.fixture
def make_app(tmp_path: Path, migrated_template: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps with extra configuration, each on its own copy of the migrated database."""
    made: list[Flask] = []

    def build(**overrides: object) -> Flask:
        database = tmp_path / f"configured{len(made)}.sqlite3"
        shutil.copy(migrated_template, database)
        made.append(_make_app(database, **overrides))
        return made[-1]

    yield build
    for application in made:
        with application.app_context():
            db.engine.dispose()
