"""Production behind Caddy, for real: deploy/Caddyfile with Caddy's own CA in front of gunicorn (production settings).

Checked: HTTPS with a certificate from Caddy's local authority, HSTS, `__Host-` secure cookies, the client's own
address in the audit log (not the proxy's, not one the client made up), an access log with no query string,
client address, headers or cookies, and no file written into the code folder.

Caddy comes from Debian's package (`.ci/run` installs it). Without it this test skips, unless REQUIRE_CADDY=1
says the machine must have it, as in CI.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.security.crypto import new_key_spec
from tests.conftest import Databases

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ADDRESS = "127.0.0.2"  # the "patient's" address: a loopback address that is not the proxy's 127.0.0.1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _caddy() -> str:
    found = shutil.which("caddy")
    if not found:
        if os.environ.get("REQUIRE_CADDY") == "1":
            pytest.fail("REQUIRE_CADDY=1 but caddy is not installed (apt-get install caddy)")
        pytest.skip("caddy is not installed (apt-get install caddy); .ci/run installs it")
    return found


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def code_tree() -> set[str]:
    """Every file in the code folder (tools' caches, the virtualenv and git aside)."""
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
    found: set[str] = set()
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in skip]
        found.update(os.path.relpath(os.path.join(folder, name), ROOT) for name in files)
    return found


@dataclass
class Site:
    """Caddy on https://127.0.0.1:port in front of gunicorn; the CA to trust, the logs, the database."""

    port: int
    context: ssl.SSLContext
    access_log: Path
    database: str

    def request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, list[str]], str]:
        """One request from CLIENT_ADDRESS; the status, every header (lower-case names) and the body."""
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=15,
                                                 source_address=(CLIENT_ADDRESS, 0))
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            found: dict[str, list[str]] = {}
            for name, value in response.getheaders():
                found.setdefault(name.lower(), []).append(value)
            return response.status, found, response.read().decode()
        finally:
            connection.close()


def _wait(url_check: object, process: subprocess.Popen[bytes], output: Path, what: str) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if url_check():  # type: ignore[operator]
                return
        except (OSError, ssl.SSLError, http.client.HTTPException):
            pass
        time.sleep(0.3)
    pytest.fail(f"{what} did not start:\n{output.read_text(errors='replace')}")


@pytest.fixture
def site(tmp_path: Path, databases: Databases) -> Iterator[Site]:
    caddy = _caddy()
    database = databases.migrated("caddy")
    before = code_tree()
    app_port, https_port, http_port, admin_port = (_free_port() for _ in range(4))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CLINIC_", "MAIL_", "PUBLIC_"))}
    env.update(FLASK_CONFIG="production", DATABASE_URL=database, SECRET_KEY="s" * 48,
               DATA_ENCRYPTION_KEYS=new_key_spec("p1"), BLIND_INDEX_KEY=new_key_spec("i").split(":")[1],
               PUBLIC_BASE_URL="https://screen.valley.example", CLINIC_NAME="Valley Spine Center",
               CLINIC_PHONE="+1 503 555 0100", WEB_CONCURRENCY="1", RATELIMIT_STORAGE_URI="memory://",
               PORT=str(app_port), TRUSTED_PROXY_COUNT="1", INSTANCE_PATH=str(tmp_path / "instance"),
               GUNICORN_ACCESS_LOG=str(tmp_path / "gunicorn-access.log"), MAIL_DELIVER_IN_BACKGROUND="0")
    gunicorn_out = tmp_path / "gunicorn.out"
    with gunicorn_out.open("wb") as out:
        gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"], cwd=ROOT,
                                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    access_log, caddy_out = tmp_path / "caddy-access.log", tmp_path / "caddy.out"
    caddy_env = {**os.environ, "MILD_SITE": "127.0.0.1", "MILD_TLS": "internal",
                 "MILD_UPSTREAM": f"127.0.0.1:{app_port}", "MILD_HTTPS_PORT": str(https_port),
                 "MILD_HTTP_PORT": str(http_port), "MILD_CADDY_ADMIN": f"127.0.0.1:{admin_port}",
                 "MILD_ACCESS_LOG": str(access_log), "XDG_DATA_HOME": str(tmp_path / "caddy-data"),
                 "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"), "HOME": str(tmp_path)}
    with caddy_out.open("wb") as out:
        proxy = subprocess.Popen([caddy, "run", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter",
                                  "caddyfile"], env=caddy_env, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        root = tmp_path / "caddy-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        _wait(lambda: root.exists(), proxy, caddy_out, "Caddy's local CA")
        context = ssl.create_default_context(cafile=str(root))  # only Caddy's CA: the check is real
        running = Site(https_port, context, access_log, database)
        _wait(lambda: running.request("GET", "/healthz")[0] == 200, proxy, caddy_out,
              "Caddy in front of gunicorn (" + gunicorn_out.name + ")")
        yield running
    finally:
        _stop(proxy)
        _stop(gunicorn)
    # Production wrote nothing into the code folder (it can be read-only and root's): data went to INSTANCE_PATH.
    assert code_tree() - before == set()


def _cookies(headers: dict[str, list[str]]) -> list[str]:
    return headers.get("set-cookie", [])


def test_https_through_caddy_keeps_the_clients_address_and_a_clean_log(site: Site) -> None:
    status, headers, body = site.request("GET", "/")
    assert status == 200 and "Valley Spine Center" in body
    assert headers["strict-transport-security"] == ["max-age=31536000; includeSubDomains"]

    # Cookies: pinned to this host (__Host-), HTTPS only, out of scripts' reach.
    status, headers, page = site.request("GET", "/staff/login")
    cookies = _cookies(headers)
    assert cookies, "the sign-in page starts a session"
    for cookie in cookies:
        assert cookie.startswith("__Host-"), cookie
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "path"} <= attributes and "domain" not in attributes, cookie

    # A failed sign-in from the client, which also claims to be someone else: the audit row has its real address.
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    session = "; ".join(cookie.split(";")[0] for cookie in cookies)
    form = urllib.parse.urlencode({"csrf_token": token.group(1), "email": "nobody@valley.example",
                                   "password": "not-the-password"})
    status, _, _ = site.request("POST", "/staff/login", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": session,
        "X-Forwarded-For": "203.0.113.9"})
    assert status in (200, 400, 401, 429), status
    engine = create_engine(site.database)
    try:
        with engine.connect() as connection:
            addresses = connection.execute(text(
                "SELECT ip FROM audit_event WHERE action = 'login_failed'")).scalars().all()
    finally:
        engine.dispose()
    assert addresses == [CLIENT_ADDRESS]

    # A search in the query string, a referrer and a user agent: none of them may reach the access log.
    site.request("GET", "/healthz?q=Hernandez", headers={"User-Agent": "PatientPhone/1.0",
                                                          "Referer": "https://clinic.example/?name=Garcia"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "/healthz" not in site.access_log.read_text():
        time.sleep(0.2)
    log = site.access_log.read_text()
    entries = [json.loads(line) for line in log.splitlines()]
    assert {entry["request"]["uri"] for entry in entries} >= {"/", "/staff/login", "/healthz"}
    for forbidden in ("Hernandez", "Garcia", "PatientPhone", CLIENT_ADDRESS, "203.0.113.9", "__Host-", "?"):
        assert forbidden not in log, forbidden
    for entry in entries:
        assert set(entry["request"]) <= {"method", "host", "uri", "proto"}, entry["request"]
        assert "resp_headers" not in entry
