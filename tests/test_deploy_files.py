"""deploy/: the settings file template, the systemd units and a graceful reload that drops no request."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from dotenv import dotenv_values

from app.platform.settings_check import settings_of
from app.security.crypto import new_key_spec
from config import ProductionConfig
from tests.conftest import Databases
from tests.test_serve import _free_port, _stop

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
FLASK = Path(sys.executable).parent / "flask"
# Read from the environment outside config.py's classes (config.py itself, gunicorn.conf.py).
ENVIRONMENT_ONLY = {"FLASK_CONFIG", "DATABASE_URL", "INSTANCE_PATH", "PORT", "WEB_CONCURRENCY"}


def filled_template(tmp_path: Path) -> Path:
    """deploy/mild.env.example with its secrets filled in and the database on a local SQLite file."""
    text = (DEPLOY / "mild.env.example").read_text()
    values = {"SECRET_KEY": "s" * 48, "DATA_ENCRYPTION_KEYS": new_key_spec("k1"),
              "BLIND_INDEX_KEY": new_key_spec("i").split(":")[1], "MONITORING_TOKEN": "m" * 40}
    for key, value in values.items():
        text = re.sub(rf"^{key}=$", f"{key}={value}", text, flags=re.MULTILINE)
    text = re.sub(r"^DATABASE_URL=.*$", f"DATABASE_URL=sqlite:///{tmp_path / 'mild.sqlite3'}", text, flags=re.M)
    text = re.sub(r"^MIGRATION_DATABASE_URL=.*$", "MIGRATION_DATABASE_URL=", text, flags=re.M)
    text = re.sub(r"^INSTANCE_PATH=.*$", f"INSTANCE_PATH={tmp_path}", text, flags=re.M)
    path = tmp_path / "mild.env"
    path.write_text(text)
    return path


def test_the_settings_template_names_only_real_settings_and_passes_the_check_once_filled(tmp_path: Path) -> None:
    template = dotenv_values(DEPLOY / "mild.env.example", interpolate=False)
    known = set(settings_of(ProductionConfig)) | ENVIRONMENT_ONLY
    assert set(template) - known == set()
    assert template["CLINIC_NAME"] == "Valley Spine & Pain Center"  # the quoting rules as written hold
    assert template["MAIL_PASSWORD"] == ""
    env = {key: value for key, value in os.environ.items() if key not in template}
    env["MILD_ENV_FILE"] = str(filled_template(tmp_path))
    checked = subprocess.run([sys.executable, "-m", "app.platform.settings_check"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stderr
    env["MILD_ENV_FILE"] = str(DEPLOY / "mild.env.example")  # unfilled: the missing secrets are named
    unfilled = subprocess.run([sys.executable, "-m", "app.platform.settings_check"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
    assert unfilled.returncode == 1 and "SECRET_KEY must be set" in unfilled.stderr


def test_every_unit_runs_a_command_that_exists(tmp_path: Path) -> None:
    env = {**os.environ, "FLASK_APP": "wsgi", "FLASK_CONFIG": "testing"}
    commands = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        text = unit.read_text()
        assert "User=mild" in text and "MILD_ENV_FILE=/etc/mild/mild.env" in text, unit.name
        (line,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
        argv = shlex.split(line.removeprefix("ExecStart="))
        assert argv[0].startswith("/opt/mild/.venv/bin/"), unit.name
        commands.append(argv)
        timer = unit.with_suffix(".timer")
        assert timer.exists() or unit.name in ("mild-web.service", "mild-worker.service"), f"{unit.name} has no timer"
    for argv in commands:
        program = Path(argv[0]).name
        if program == "flask":
            shown = subprocess.run([str(FLASK), *argv[1:], "--help"], cwd=ROOT, env=env, capture_output=True,
                                   text=True, timeout=60, check=False)
            assert shown.returncode == 0, (argv, shown.stderr)
        else:
            assert program == "gunicorn" and argv[1:] == ["--config", "/opt/mild/gunicorn.conf.py"]
    assert {argv[1] for argv in commands if Path(argv[0]).name == "flask"} == {"backup", "purge", "worker"}


def test_a_graceful_reload_rereads_the_settings_file_and_drops_no_request(tmp_path: Path,
                                                                         databases: Databases) -> None:
    port = _free_port()
    settings = tmp_path / "mild.env"
    settings.write_text(f'FLASK_CONFIG=development\nDATABASE_URL={databases.migrated("reload")}\n'
                        f'CLINIC_NAME="Before Reload Clinic"\nWEB_CONCURRENCY=2\nPORT={port}\n'
                        'MAIL_DELIVER_IN_BACKGROUND=0\n')
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CLINIC_", "DATABASE_", "FLASK_"))}
    env["MILD_ENV_FILE"] = str(settings)
    output = tmp_path / "gunicorn.out"
    with output.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"], cwd=ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
                    page = response.read().decode()
                    seen.append("after" if "After Reload Clinic" in page else "before")
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                if seen:  # before the first answer the server is still starting
                    failures.append(repr(error))

    clients = [threading.Thread(target=load) for _ in range(4)]
    try:
        deadline = time.monotonic() + 30
        for client in clients:
            client.start()
        while not seen and time.monotonic() < deadline:
            time.sleep(0.1)
        assert seen, output.read_text(errors="replace")
        settings.write_text(settings.read_text().replace("Before Reload Clinic", "After Reload Clinic"))
        os.kill(server.pid, signal.SIGHUP)
        while "after" not in seen and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # keep loading while the old workers finish
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=20)
        _stop(server)
    assert "after" in seen, output.read_text(errors="replace")
    assert failures == []
    assert seen.count("before") > 0 and len(seen) > 20
