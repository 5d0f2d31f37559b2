"""Accessibility in a real browser: axe-core on every patient and staff page, and what axe does not check.

One walk per language goes through every patient page, as a new patient would: each page is looked at
empty, then (where it has a form) after sending it empty, with its errors shown; then it is answered so
the walk goes on. At each stop the page is measured (tests/browser/probes.py): axe-core with the WCAG
2.0/2.1/2.2 A and AA rules, text contrast (7:1), text size (19 px), touch targets (44x44 px), horizontal
scrolling at 320 CSS px and at 200% zoom, and the keyboard (every control reached with Tab, each with a
visible focus indicator). The tests below then judge one criterion each over everything the walk saw.

Spanish uses the app's own switch, ``GET /language/es?next=<path>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import text

from config import CONFIGS
from tests.answers import answers_with
from tests.browser.conftest import AXE_ROWS, LANGUAGES, MAX_TABS, PHONE, LiveServer, use_language
from tests.browser.patient import FLOW, Patient
from tests.browser.probes import (
    CONTRAST_JS,
    FOCUS_JS,
    FONT_SIZE_JS,
    MARK_CONTROLS_JS,
    OVERFLOW_JS,
    TARGET_SIZE_JS,
)
from tests.conftest import raw_connection
from tests.journey import CONTACT
from tests.patient_pages import LEARN_PAGES

pytestmark = pytest.mark.browser

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
NARROW = {"width": 320, "height": 740}  # WCAG 1.4.10 reflow: 320 CSS px
ZOOMED = {"width": 640, "height": 400}  # a 1280x800 window at 200% zoom is 640x400 CSS px
AXE = Axe()


@dataclass
class Stop:
    """One page in one state, as measured."""

    name: str
    language: str
    state: str
    path: str
    title: str
    heading: str
    lang: str
    axe: list[str]
    keyboard: list[str]
    contrast: list[str] = field(default_factory=list)
    font: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} [{self.language}, {self.state}]"


def axe_violations(page: Page, name: str, language: str, state: str) -> list[str]:
    """axe-core's violations for the page as it is now; the count goes into the printed table."""
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    violations = AXE.run(page, options=options).response["violations"]
    AXE_ROWS.append((name, language, state, sum(len(v["nodes"]) for v in violations)))
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: " + ", ".join(str(n["target"]) for n in v["nodes"][:4])
        for v in violations
    ]


def keyboard_problems(page: Page) -> list[str]:
    """Tab through the whole page: every control must take focus, and show it."""
    expected: list[str] = page.evaluate(MARK_CONTROLS_JS)
    seen: list[str] = []
    problems: list[str] = []
    outside = 0
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        info: dict[str, Any] | None = page.evaluate(FOCUS_JS, seen)
        if info is None:  # focus left the page (the browser's own controls); it comes back
            outside += 1
            if outside > 2:
                break
            continue
        if seen and info["key"] == seen[0]:
            break  # round the whole page
        if info["key"] in seen:
            continue  # the day, month and year parts of a date box are one control
        seen.append(info["key"])
        if not info["changes"]:
            problems.append(f"no visible focus indicator on {info['key']} ({info['name']!r})")
    problems += [f"{key} cannot be reached with the Tab key" for key in expected if key not in seen]
    # Focus ends on the skip link, which pushes the page down while focused; let it go, as a mouse user would.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    return problems


def measure(page: Page, name: str, language: str, state: str, patient: bool = True) -> Stop:
    """Everything the tests judge, for the page as it is now."""
    page.wait_for_load_state()
    stop = Stop(
        name=name, language=language, state=state, path=page.url.split("?")[0], title=page.title(),
        heading=page.locator("h1").first.inner_text().strip(), lang=page.evaluate("document.documentElement.lang"),
        axe=axe_violations(page, name, language, state), keyboard=keyboard_problems(page),
    )
    if patient:
        stop.contrast = page.evaluate(CONTRAST_JS, 7)
        stop.font = page.evaluate(FONT_SIZE_JS, 19)
        stop.targets = page.evaluate(TARGET_SIZE_JS, 44)
        for label, viewport in (("320 px", NARROW), ("200% zoom", ZOOMED)):
            page.set_viewport_size(viewport)
            stop.overflow += [f"{label}: {problem}" for problem in page.evaluate(OVERFLOW_JS)]
        page.set_viewport_size(PHONE)
    return stop


def submit(page: Page) -> None:
    """Send the page's form with its own button, whatever the language calls it."""
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state()


def walk_patient_pages(browser: Browser, live_server: LiveServer, language: str) -> list[Stop]:
    """Every patient page, empty and with errors, in ``language``."""
    stops: list[Stop] = []
    context = browser.new_context(viewport=PHONE, base_url=live_server.url, locale="en-US")
    try:
        page = context.new_page()
        use_language(page, live_server, language, "/")
        stops.append(measure(page, "start", language, "empty"))
        for name, path in {**LEARN_PAGES, "privacy": "/privacy"}.items():
            page.goto(path)
            stops.append(measure(page, name, language, "empty"))
        patient = Patient(page, "javascript")
        answers = answers_with()
        page.goto(f"/questions/{FLOW[0]}")
        for slug in FLOW:
            expect(page).to_have_url(re.compile(f"/questions/{slug}$"))
            stops.append(measure(page, f"question {slug}", language, "empty"))
            submit(page)
            expect(page.locator(".error-summary")).to_be_visible()
            stops.append(measure(page, f"question {slug}", language, "errors"))
            patient.answer(slug, answers)
            submit(page)
        expect(page).to_have_url(re.compile("/check-your-answers$"))
        stops.append(measure(page, "check your answers", language, "filled"))
        submit(page)
        stops.append(measure(page, "result (likely)", language, "filled"))
        page.goto("/request")
        stops.append(measure(page, "contact details", language, "empty"))
        submit(page)
        expect(page.locator(".error-summary")).to_be_visible()
        stops.append(measure(page, "contact details", language, "errors"))
        patient.fill_contact(CONTACT)
        submit(page)
        expect(page).to_have_url(re.compile("/request/check$"))
        stops.append(measure(page, "check your details", language, "filled"))
        submit(page)
        expect(page).to_have_url(re.compile("/request/sent$"))
        stops.append(measure(page, "request sent", language, "filled"))
        page.goto("/request/documents")
        stops.append(measure(page, "documents", language, "empty"))
        submit(page)
        expect(page.locator(".error-summary")).to_be_visible()
        stops.append(measure(page, "documents", language, "errors"))
        page.goto("/questions/age")
        stops.append(measure(page, "already sent", language, "filled"))
        with raw_connection(live_server.database_url) as connection:  # the draft expires
            connection.execute(text("UPDATE draft SET updated_at = :old"), {"old": datetime(2000, 1, 1)})
        page.goto("/request/sent")
        expect(page).to_have_url(re.compile("/session-ended$"))
        stops.append(measure(page, "request safe", language, "filled"))

        page.context.clear_cookies()
        use_language(page, live_server, language, "/questions/safety")
        patient.answer("safety", {"red_flags": ["worsening_weakness"]})
        submit(page)
        expect(page).to_have_url(re.compile("/get-help-now$"))
        stops.append(measure(page, "get help now", language, "filled"))
        page.goto("/session-ended")
        stops.append(measure(page, "answers deleted", language, "empty"))
        page.goto("/no-such-page")
        stops.append(measure(page, "page not found", language, "empty"))
        page.goto("/questions/safety")
        page.evaluate("document.querySelector('input[name=csrf_token]').value = 'stale'")
        submit(page)
        expect(page.locator("h1")).to_have_count(1)
        stops.append(measure(page, "form refused", language, "filled"))
    finally:
        context.close()
    return stops


def sign_in(page: Page, account: dict[str, str]) -> None:
    page.goto("/staff/login")
    page.locator("#email").fill(account["email"])
    page.locator("#password").fill(account["password"])
    submit(page)


def walk_staff_pages(browser: Browser, live_server: LiveServer, language: str) -> list[Stop]:
    """Every staff page, empty and with errors (the console is English whatever the patient pages are in)."""
    stops: list[Stop] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    try:
        patient = Patient(context.new_page(), "javascript")  # a request to look at
        patient.answer_everything(answers_with())
        patient.submit("See my result")
        patient.send_request()
        patient.page.close()
        context.clear_cookies()
        page = context.new_page()
        use_language(page, live_server, language, "/staff/login")

        def stop(name: str, state: str) -> None:
            stops.append(measure(page, f"staff {name}", language, state, patient=False))

        stop("sign in", "empty")
        submit(page)
        stop("sign in", "errors")
        sign_in(page, live_server.staff)
        expect(page).to_have_url(re.compile("/staff/requests"))
        stop("queue", "filled")
        page.goto("/staff/requests?from=yesterday")
        stop("queue", "errors")
        page.goto("/staff/requests?status=all")
        page.locator("tbody a").first.click()
        page.wait_for_load_state()
        stop("request", "filled")
        attempt = page.locator("form", has_text="Log a contact attempt")
        attempt.evaluate("form => { form.noValidate = true; }")  # the server's messages, not the browser's
        attempt.locator("button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator(".error, .flash--error").first).to_be_visible()
        stop("request", "errors")
        page.get_by_role("link", name="Printable summary").click()
        stop("request print", "filled")
        page.goto("/staff/admin/accounts")
        stop("accounts", "empty")
        page.locator("form[action$='#add'] button[type=submit]").click()
        page.wait_for_load_state()
        stop("accounts", "errors")
        page.goto("/staff/admin/audit")
        stop("audit log", "filled")
        page.goto("/staff/admin/outbox")
        stop("outbox", "filled")
        page.goto("/staff/messages")
        stop("messages", "empty")
        page.goto("/staff/admin/system")
        stop("system", "filled")
        page.goto("/staff/dashboard")
        stop("dashboard", "filled")
        page.goto("/staff/dashboard?from=2026-13-45&to=soon")
        expect(page.locator(".error-summary")).to_be_visible()
        stop("dashboard", "errors")
        page.goto("/staff/codebook")
        stop("codebook", "filled")
        page.goto("/staff/account/two-factor")
        stop("two-factor set-up", "empty")
        page.locator("main form button[type=submit]").last.click()
        page.wait_for_load_state()
        stop("two-factor set-up", "errors")

        # A second account turns two-factor on: the recovery codes, then the code page at the next sign-in.
        account = {"email": f"second-{language}@clinic.example", "password": "another long pass phrase"}
        page.goto("/staff/admin/accounts")
        page.locator("#name").fill("Sam Second")
        page.locator("#email").fill(account["email"])
        page.locator("#role").select_option("frontdesk")
        page.locator("#password").fill(account["password"])
        page.locator("form[action$='#add'] button[type=submit]").click()
        expect(page.get_by_role("cell", name=account["email"])).to_be_visible()
        context.clear_cookies()
        sign_in(page, account)
        page.goto("/staff/account/two-factor")
        secret = re.sub(r"\s", "", page.locator("#secret").inner_text())
        page.locator("#code").fill(pyotp.TOTP(secret).now())
        page.locator("main form button[type=submit]").last.click()
        expect(page.locator(".recovery-codes")).to_be_visible()
        stop("recovery codes", "filled")
        context.clear_cookies()
        sign_in(page, account)
        expect(page).to_have_url(re.compile("/staff/login/code"))
        stop("sign-in code", "empty")
        submit(page)
        expect(page.locator(".error").first).to_be_visible()
        stop("sign-in code", "errors")
    finally:
        context.close()
    return stops


@pytest.fixture(scope="module", params=LANGUAGES)
def patient_stops(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer) -> Iterator[list[Stop]]:
    language = request.param
    if language != "en" and not live_server.language_route:
        pytest.skip(f"GET /language/{language} answers 404: the Spanish language switch is not in the app yet")
    yield walk_patient_pages(browser, live_server, language)


@pytest.fixture(scope="module", params=LANGUAGES)
def staff_stops(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer) -> Iterator[list[Stop]]:
    language = request.param
    if language != "en" and not live_server.language_route:
        pytest.skip(f"GET /language/{language} answers 404: the Spanish language switch is not in the app yet")
    yield walk_staff_pages(browser, live_server, language)


def check(stops: list[Stop], attribute: str) -> None:
    """Fail listing every problem of this kind, page by page."""
    problems = [f"{stop.label} {stop.path}: {problem}" for stop in stops for problem in getattr(stop, attribute)]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_patient_pages_have_no_axe_violations(patient_stops: list[Stop]) -> None:
    assert len(patient_stops) == 2 * len(FLOW) + 16 + len(LEARN_PAGES)
    check(patient_stops, "axe")


def test_staff_pages_have_no_axe_violations(staff_stops: list[Stop]) -> None:
    assert len(staff_stops) == 21
    check(staff_stops, "axe")


def test_every_patient_control_takes_keyboard_focus_visibly(patient_stops: list[Stop]) -> None:
    check(patient_stops, "keyboard")


def test_every_staff_control_takes_keyboard_focus_visibly(staff_stops: list[Stop]) -> None:
    check(staff_stops, "keyboard")


def test_patient_text_contrast_is_at_least_7_to_1(patient_stops: list[Stop]) -> None:
    check(patient_stops, "contrast")


def test_patient_text_is_at_least_19px(patient_stops: list[Stop]) -> None:
    check(patient_stops, "font")


def test_patient_touch_targets_are_at_least_44px(patient_stops: list[Stop]) -> None:
    check(patient_stops, "targets")


def test_no_horizontal_scrolling_at_320px_or_200_percent_zoom(patient_stops: list[Stop]) -> None:
    check(patient_stops, "overflow")


def test_patient_page_titles_are_unique_and_descriptive(patient_stops: list[Stop]) -> None:
    language = patient_stops[0].language
    assert {stop.lang for stop in patient_stops} == {language}  # <html lang> matches the language shown
    first_look = {stop.name: stop for stop in patient_stops if stop.state != "errors"}
    titles = [stop.title for stop in first_look.values()]
    assert len(set(titles)) == len(titles), sorted(titles)
    clinic = titles[0].rsplit(" – ", 1)[1]
    for stop in patient_stops:
        own, _, site = stop.title.rpartition(" – ")
        assert site == clinic, stop.title
        assert len(own.split()) >= 2, stop.title
        if stop.state == "errors":
            plain = first_look[stop.name].title
            assert stop.title.endswith(plain) and stop.title != plain, stop.title
            assert stop.title.startswith("Error:"), stop.title
        elif stop.name.startswith("question"):
            assert own == stop.heading, (stop.title, stop.heading)  # the title says what the page asks


def test_error_summary_takes_focus_without_javascript(
    browser: Browser, live_server: LiveServer
) -> None:
    context = browser.new_context(viewport=PHONE, base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/questions/safety")
        submit(page)
        expect(page.locator(".error-summary")).to_be_focused()
    finally:
        context.close()


def test_patient_time_limit_is_not_shorter_than_2_hours() -> None:
    for config in CONFIGS.values():
        assert timedelta(hours=2) <= config.DRAFT_IDLE_TIMEOUT
        assert config.WTF_CSRF_TIME_LIMIT is None or config.WTF_CSRF_TIME_LIMIT >= 2 * 3600
