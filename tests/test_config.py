"""Configuration: the clinic comes from the environment, and production refuses to start unsafely."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.security.crypto import new_key_spec
from config import DEV_DATA_KEYS, DEV_INDEX_KEY, ProductionConfig, TestingConfig

ROOT = Path(__file__).resolve().parents[1]


def test_production_refuses_to_start_without_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(FLASK_CONFIG="production", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


PROD_KEYS = {"SECRET_KEY": "k" * 40, "DATA_ENCRYPTION_KEYS": new_key_spec("p1"),
             "BLIND_INDEX_KEY": new_key_spec("i").split(":")[1], "PUBLIC_BASE_URL": "https://screen.valley.example",
             "CLINIC_NAME": "Valley Spine Center", "CLINIC_PHONE": "+1 503 555 0100",
             "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}


def test_production_starts_with_a_secret_key_and_secure_cookie(tmp_path: Path) -> None:
    app = create_app(ProductionConfig, **PROD_KEYS, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")


def test_clinic_details_come_from_configuration(app: Flask, tmp_path: Path) -> None:
    other = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        CLINIC_NAME="Valley Pain Center",
        CLINIC_PHONE="0161 496 0000",
        CLINIC_PHONE_REGION="GB",
        CLINIC_TIMEZONE="Europe/London",
        CLINIC_EMERGENCY_NUMBER="999",
    )
    page = other.test_client().get("/").text
    assert "Valley Pain Center" in page
    assert "0161 496 0000" in page
    assert 'href="tel:+441614960000"' in page
    assert "call 999" in page
    assert "Demo Spine" not in page


def test_unknown_phone_region_fails_at_start() -> None:
    with pytest.raises(ValueError, match="CLINIC_PHONE_REGION"):
        create_app(TestingConfig, CLINIC_PHONE_REGION="XX")


def test_unknown_config_name_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "FLASK_CONFIG": "staging"}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode != 0
    assert "FLASK_CONFIG must be one of" in result.stderr


def test_production_refuses_intake_address_without_mail_server(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="MAIL_SERVER must be set when MAIL_INTAKE_ADDRESS"):
        create_app(ProductionConfig, **PROD_KEYS, MAIL_INTAKE_ADDRESS="intake@clinic.example",
                   MAIL_SERVER="", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"DATA_ENCRYPTION_KEYS": ""}, "must be set in production"),
     ({"BLIND_INDEX_KEY": ""}, "must be set in production"),
     ({"DATA_ENCRYPTION_KEYS": DEV_DATA_KEYS}, "development encryption keys"),
     ({"BLIND_INDEX_KEY": DEV_INDEX_KEY}, "development encryption keys")],
)
def test_production_refuses_missing_or_development_keys(tmp_path: Path, overrides: dict[str, str],
                                                         message: str) -> None:
    with pytest.raises(RuntimeError, match=message):
        create_app(ProductionConfig, **{**PROD_KEYS, **overrides},
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}")


def test_production_refuses_the_test_password_hashing_and_any_unknown_profile(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(RuntimeError, match="PASSWORD_HASH_PROFILE=CHEAPEST is for tests only"):
        create_app(ProductionConfig, **PROD_KEYS, PASSWORD_HASH_PROFILE="CHEAPEST", SQLALCHEMY_DATABASE_URI=database)
    with pytest.raises(ValueError, match=r"is not one of argon2\.profiles"):
        create_app(TestingConfig, PASSWORD_HASH_PROFILE="FASTEST_PLEASE", SQLALCHEMY_DATABASE_URI=database)
