"""Production refuses unsafe settings with one clear line each; `flask check-config` says the same beforehand.

Each refusal is seen the way an operator sees it: gunicorn started with gunicorn.conf.py (as deploy/mild-web.service
does) with one unsafe setting, and the `flask` command with the same environment.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.security.crypto import new_key_spec
from config import DevelopmentConfig
from tests.conftest import Databases
from tests.factories import login, make_staff, seed_request

ROOT = Path(__file__).resolve().parents[1]
PYTHON_BIN = Path(sys.executable).parent


def safe_production(database: str) -> dict[str, str]:
    """A production environment with nothing unsafe in it (the base each refusal changes one thing of)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CLINIC_", "MAIL_", "RATELIMIT_", "PUBLIC_", "SECRET_", "DATA_", "BLIND_"))}
    env.update(FLASK_CONFIG="production", FLASK_APP="wsgi", DATABASE_URL=database, SECRET_KEY="s" * 48,
               DATA_ENCRYPTION_KEYS=new_key_spec("p1"), BLIND_INDEX_KEY=new_key_spec("i").split(":")[1],
               PUBLIC_BASE_URL="https://screen.valley.example", CLINIC_NAME="Valley Spine Center",
               CLINIC_PHONE="+1 503 555 0100", RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
               WEB_CONCURRENCY="2", PORT="0", ONCALL_EMAIL="oncall@valley.example")
    return env


UNSAFE = [
    ({"DATABASE_URL": ""}, "DATABASE_URL is not set: name the production database"),
    ({"PUBLIC_BASE_URL": "http://127.0.0.1:5000"}, "PUBLIC_BASE_URL is http://127.0.0.1:5000, not https"),
    ({"PUBLIC_BASE_URL": "https://localhost"}, "which only this machine can reach"),
    ({"PUBLIC_BASE_URL": "http://screen.valley.example"}, "links in emails would travel in clear text"),
    ({"CLINIC_NAME": "Demo Spine & Pain Clinic"}, "CLINIC_NAME is the demo clinic's"),
    ({"CLINIC_PHONE": "+1 415 555 0134"}, "CLINIC_PHONE is the demo clinic's number"),
    ({"SECRET_KEY": "short-but-not-empty"}, "SECRET_KEY is 19 bytes; production needs at least 32"),
    ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI is memory:// with WEB_CONCURRENCY=2 workers"),
    ({"DATA_ENCRYPTION_KEYS": ""}, "DATA_ENCRYPTION_KEYS and BLIND_INDEX_KEY must be set in production"),
]


@pytest.mark.parametrize(("unsafe", "message"), UNSAFE, ids=[next(iter(u)) + str(i) for i, (u, _) in enumerate(UNSAFE)])
def test_gunicorn_refuses_to_start_with_one_clear_line(tmp_path: Path, unsafe: dict[str, str], message: str) -> None:
    env = {**safe_production(f"sqlite:///{tmp_path / 'mild.sqlite3'}"), **unsafe}
    started = subprocess.run([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert started.returncode != 0
    assert message in started.stderr
    assert "Traceback" not in started.stderr  # a sentence for the operator, not a stack
    assert "flask check-config" in started.stderr


def test_a_safe_production_environment_passes_the_check(tmp_path: Path) -> None:
    env = safe_production(f"sqlite:///{tmp_path / 'mild.sqlite3'}")
    checked = subprocess.run([sys.executable, "-m", "app.platform.settings_check"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stderr


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `flask` command as an operator would, from the code folder."""
    return subprocess.run([str(PYTHON_BIN / "flask"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_check_config_lists_every_problem_and_the_key_tools_still_work(tmp_path: Path) -> None:
    env = {**safe_production(f"sqlite:///{tmp_path / 'mild.sqlite3'}"), "SECRET_KEY": "", "DATA_ENCRYPTION_KEYS": "",
           "BLIND_INDEX_KEY": "", "CLINIC_NAME": "Demo Spine & Pain Clinic"}
    checked = flask(env, "check-config")
    assert checked.returncode == 1
    assert "FAIL  SECRET_KEY: SECRET_KEY must be set" in checked.stdout
    assert "FAIL  CLINIC_NAME: CLINIC_NAME is the demo clinic's" in checked.stdout
    assert "FAIL  DATA_ENCRYPTION_KEYS" in checked.stdout
    # What an operator needs to fix those works in the same unsafe environment.
    secret = flask(env, "secret-key")
    assert secret.returncode == 0 and len(secret.stdout.strip()) >= 64
    key = flask(env, "keys", "new", "k1")
    assert key.returncode == 0 and key.stdout.startswith("k1:")
    index = flask(env, "keys", "new-index-key")
    assert index.returncode == 0 and len(index.stdout.strip()) >= 43
    # Anything that touches data is refused with the same list, not a traceback.
    upgrade = flask(env, "db", "upgrade")
    assert upgrade.returncode != 0
    assert "CLINIC_NAME is the demo clinic's" in upgrade.stderr and "Traceback" not in upgrade.stderr
    assert not (tmp_path / "mild.sqlite3").exists()  # nothing was created


def test_check_config_on_a_safe_server_checks_the_database_too(tmp_path: Path) -> None:
    env = safe_production(f"sqlite:///{tmp_path / 'mild.sqlite3'}")
    before = flask(env, "check-config")
    assert before.returncode == 1
    assert "FAIL  migrations: the database is at an empty database" in before.stdout
    assert flask(env, "db", "upgrade").returncode == 0
    after = flask(env, "check-config")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "ok    database: sqlite answers" in after.stdout
    assert "ok    migrations: at head" in after.stdout
    assert "ok    encryption keys" in after.stdout
    assert "WARN  backup: no verified backup yet" in after.stdout
    assert stat.S_IMODE((tmp_path / "mild.sqlite3").stat().st_mode) == 0o600


def test_rows_under_a_missing_key_are_named_at_the_health_check_and_the_staff_page(
        databases: Databases, app_factory: Callable[..., Flask], caplog: pytest.LogCaptureFixture) -> None:
    database = databases.migrated("keys")
    first = app_factory(database)
    reference = seed_request(first, "likely")
    admin = make_staff(first, "admin")
    # The same database, started with a different key (a backup restored onto a server with new keys).
    other = app_factory(database, DATA_ENCRYPTION_KEYS=new_key_spec("k9"))
    client: FlaskClient = other.test_client()
    with caplog.at_level(logging.ERROR):
        health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json() == {"status": "unavailable"}
    assert any("dev1" in record.getMessage() for record in caplog.records)
    login(client, admin)
    for path in ("/staff/requests", f"/staff/requests/{reference}"):
        page = client.get(path)
        assert page.status_code == 503, path
        assert "It is encrypted with a key this server does not have" in page.text
        assert "flask check-config" in page.text


def test_proxy_headers_without_a_trusted_proxy_are_warned_about_once(
        make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(TRUSTED_PROXY_COUNT=0)
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        client.get("/", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
        client.get("/", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    warned = [r.getMessage() for r in caplog.records if "TRUSTED_PROXY_COUNT is 0" in r.getMessage()]
    assert len(warned) == 1 and "set TRUSTED_PROXY_COUNT=1" in warned[0]
    caplog.clear()
    quiet = make_app(TRUSTED_PROXY_COUNT=0)
    with caplog.at_level(logging.WARNING):
        quiet.test_client().get("/")
    assert not [r for r in caplog.records if "TRUSTED_PROXY_COUNT" in r.getMessage()]


def test_trying_the_app_out_uses_its_own_database_file_created_private(tmp_path: Path) -> None:
    assert DevelopmentConfig.SQLALCHEMY_DATABASE_URI.endswith("/mild-dev.sqlite3") or os.environ.get("DATABASE_URL")
    app = create_app(DevelopmentConfig, INSTANCE_PATH=str(tmp_path / "instance"),
                     SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'instance-db.sqlite3'}")
    assert app.instance_path == str(tmp_path / "instance")
    assert stat.S_IMODE((tmp_path / "instance").stat().st_mode) == 0o700
    assert not (tmp_path / "instance-db.sqlite3").exists()  # nothing until the database is first used
    app.test_client().get("/healthz")
    assert stat.S_IMODE((tmp_path / "instance-db.sqlite3").stat().st_mode) == 0o600


def test_gunicorn_says_at_start_which_key_its_rows_need(databases: Databases, app_factory: Callable[..., Flask],
                                                         tmp_path: Path) -> None:
    from tests.test_serve import _free_port, _stop

    database = databases.migrated("keys")
    seed_request(app_factory(database), "likely")  # under the development key, dev1
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATA_", "CLINIC_"))}
    env.update(FLASK_CONFIG="development", DATABASE_URL=database, DATA_ENCRYPTION_KEYS=new_key_spec("k9"),
               PORT=str(_free_port()), WEB_CONCURRENCY="1", MAIL_DELIVER_IN_BACKGROUND="0")
    output = tmp_path / "gunicorn.out"
    with output.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"], cwd=ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while "encrypted under key(s)" not in output.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        _stop(server)
    log = output.read_text()
    assert "stored values are encrypted under key(s) dev1, which DATA_ENCRYPTION_KEYS does not have" in log


def test_texting_settings_that_would_fail_every_text_are_named() -> None:
    from app.platform.settings_check import check_settings

    def findings(**settings: object) -> dict[str, str]:
        base = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "s" * 48, "VISIT_REMINDERS": "2d,2h",
                "OVERDUE_DIGEST_TIME": "07:30"}
        return {f.setting: f.message for f in check_settings({**base, **settings}, production=False) if f.fatal}

    assert findings() == {}
    assert findings(TEXT_PROVIDER="twilio", TWILIO_ACCOUNT_SID="AC1").keys() == {"TWILIO_AUTH_TOKEN", "TWILIO_FROM"}
    assert "not known" in findings(TEXT_PROVIDER="sms")["TEXT_PROVIDER"]
    assert "e.g. VISIT_REMINDERS=2d,2h" in findings(VISIT_REMINDERS="2 days")["VISIT_REMINDERS"]
    assert "use staff, link or after_request" in findings(BOOKING_BY="patients")["BOOKING_BY"]
    assert "not emergency" in findings(BOOKING_BY="after_request", BOOKING_AFTER_REQUEST_CATEGORIES="likely,emergency")[
        "BOOKING_AFTER_REQUEST_CATEGORIES"]
    assert "whole number" in findings(BOOKING_LINK_DAYS="a week")["BOOKING_LINK_DAYS"]
    assert "from 1 to 365" in findings(BOOKING_DAYS_AHEAD="0")["BOOKING_DAYS_AHEAD"]
    assert "write it as 07:30" in findings(OVERDUE_DIGEST_TIME="7.30am")["OVERDUE_DIGEST_TIME"]
    assert "international form" in findings(ONCALL_PHONE="503 555 0111")["ONCALL_PHONE"]
