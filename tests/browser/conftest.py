"""Real-browser fixtures: Debian's Chromium through Playwright, against gunicorn on a free localhost port.

One browser and one server for all of tests/browser/ (both are slow to start; package scope, so neither
outlives these tests); each test gets fresh browser contexts, so cookies never leak from one to another.
The tests skip, with a message saying why, only when Chromium (or Playwright) is missing, and fail
instead when ``REQUIRE_BROWSER=1`` (``.ci/run``).

The axe results of tests/browser/test_accessibility.py are collected in ``AXE_ROWS`` and printed as a
table at the end of the run (``pytest_terminal_summary``), so they show in ``pytest -q`` output too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import Databases
from tests.test_serve import ROOT, Server, _free_port, _stop, _wait_until_healthy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

# Without the background-networking flags Chromium keeps trying to reach Google's services, which on a
# closed network is a stream of refused connections.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
STAFF_EMAIL = "frontdesk@clinic.example"
STAFF_PASSWORD = "correct horse battery staple"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
# Patient pages use the keyboard's Tab order; more stops than this means focus is lost somewhere.
MAX_TABS = 200
LANGUAGES = ("en", "es")


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"real-browser tests skipped: {reason}")


def chromium_path() -> str:
    """Debian's Chromium: ``CHROMIUM_PATH`` when set, else /usr/bin/chromium or ``chromium`` on the PATH."""
    chosen = os.environ.get("CHROMIUM_PATH", "")
    candidates = (chosen,) if chosen else ("/usr/bin/chromium", shutil.which("chromium") or "")
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    _unavailable(f"Chromium is not installed at {chosen or '/usr/bin/chromium'} "
                 "(`make browser` runs apt-get install -y chromium)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    """Playwright's driver, started once."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (make install)")
    instance = sync_playwright().start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """One headless Chromium (Debian's, never a downloaded build) for the whole run."""
    launched = playwright_instance.chromium.launch(
        executable_path=chromium_path(), headless=True, args=list(CHROMIUM_ARGS)
    )
    try:
        yield launched
    finally:
        launched.close()


@dataclass
class LiveServer:
    """The app served by gunicorn for the browser tests: its URL and database."""

    url: str
    database_url: str
    server: Server
    language_route: bool = False
    staff: dict[str, str] = field(default_factory=dict)


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - http on loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.fixture(scope="package")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: Path | str, browser: Browser
) -> Iterator[LiveServer]:
    """gunicorn (gunicorn.conf.py, two workers) on a free port and a migrated database, with one staff admin.

    Development configuration with the bot timer and the rate limits lifted: every page comes from
    127.0.0.1, and a browser run posts far more often than one patient. The database is a copy of the
    migrated template, so ``make test-postgres`` runs these tests on PostgreSQL too.
    """
    yield from serve(tmp_path_factory.mktemp("browser"), migrated_template)


@pytest.fixture(scope="package")
def timed_server(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: Path | str, browser: Browser
) -> Iterator[LiveServer]:
    """A second server like ``live_server`` but with the contact form's bot timer on, as in production (3 s)."""
    yield from serve(tmp_path_factory.mktemp("browser-timed"), migrated_template, FORM_MIN_SECONDS="3")


def serve(workdir: Path, migrated_template: Path | str, **settings: str) -> Iterator[LiveServer]:
    """Run the app under gunicorn on its own copy of the database until the generator is closed."""
    databases = Databases(workdir, migrated_template)
    database_url = databases.migrated("browser")
    port = _free_port()
    env = {
        **os.environ,
        "FLASK_CONFIG": "development",
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": str(workdir / "access.log"),
        "MAIL_DELIVER_IN_BACKGROUND": "0",
        "FORM_MIN_SECONDS": "0",
        "RATELIMIT_PUBLIC_POST": "1000000 per minute",
        "RATELIMIT_REQUEST_SEND": "1000000 per minute",
        "REQUESTS_PER_PHONE": "0",  # every browser journey sends with the same phone number
        "RATELIMIT_LOGIN": "1000000 per minute",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **settings,
    }
    _cli(env, "staff", "create", STAFF_EMAIL, "--name", "Dana Front", "--role", "admin", "--password-stdin",
         stdin=f"{STAFF_PASSWORD}\n")
    output = workdir / "gunicorn.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, workdir / "access.log", output)
    try:
        _wait_until_healthy(server)
        language_route = _status(f"{server.url}/language/es?next=/") != 404
        yield LiveServer(server.url, database_url, server, language_route,
                         {"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    finally:
        _stop(process)
        databases.drop_all()


@pytest.fixture
def new_context(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., BrowserContext]]:
    """Make browser contexts (separate cookie jars) on the live server; all closed after the test."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        settings: dict[str, Any] = {"viewport": PHONE, "base_url": live_server.url, "locale": "en-US"}
        settings.update(options)
        context = browser.new_context(**settings)
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """A page in a fresh context, JavaScript on, phone-sized."""
    return new_context().new_page()


def use_language(page: Page, live_server: LiveServer, language: str, path: str = "/") -> None:
    """Switch the session to ``language`` through the app's own switch, landing on ``path``."""
    if language == "en":
        page.goto(path)
        return
    if not live_server.language_route:
        pytest.skip(f"GET /language/{language} answers 404: the Spanish language switch is not in the app yet")
    response = page.goto(f"/language/{language}?next={path}")
    assert response is not None and response.ok, f"/language/{language} answered {response and response.status}"


# --- the axe table ---------------------------------------------------------------------------------

AXE_ROWS: list[tuple[str, str, str, int]] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print every axe run: page, language, state and its number of violations (each must be 0)."""
    if not AXE_ROWS:
        return
    width = max(len(row[0]) for row in AXE_ROWS)
    terminalreporter.write_sep("=", "axe-core (WCAG 2.0/2.1/2.2 A and AA): violations per page")
    terminalreporter.write_line(f"{'page':<{width}}  language  state    violations")
    for name, language, state, count in AXE_ROWS:
        terminalreporter.write_line(f"{name:<{width}}  {language:<8}  {state:<7}  {count}")
    total = sum(row[3] for row in AXE_ROWS)
    terminalreporter.write_line(f"{len(AXE_ROWS)} pages and states checked, {total} violations")
