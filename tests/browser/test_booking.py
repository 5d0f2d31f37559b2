"""Consultation times in a real browser: an admin sets weekly hours and a holiday; staff send two patients a
booking link by text; one books a time with JavaScript off at phone width; the other, who chose the same time
a moment before, is told it has gone and picks another. The day list shows both."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.answers import answers_with
from tests.browser.conftest import DESKTOP, PHONE, ROOT, LiveServer, serve, use_language
from tests.browser.patient import Patient
from tests.browser.test_accessibility import Stop, check, measure, sign_in, submit
from tests.fake_twilio import FakeTwilio, fake_twilio, texting_config
from tests.journey import CONTACT


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as server:
        yield server


@pytest.fixture(scope="module")
def booking_server(tmp_path_factory: pytest.TempPathFactory, migrated_template: Path | str, browser: Browser,
                   twilio: FakeTwilio) -> Iterator[LiveServer]:
    settings = {key: str(value) for key, value in texting_config(twilio).items()}
    yield from serve(tmp_path_factory.mktemp("browser-booking"), migrated_template, **settings)


def clinic_today(server: LiveServer) -> date:
    zone = os.environ.get("CLINIC_TIMEZONE", "America/Los_Angeles")
    return datetime.now(ZoneInfo(zone)).date()


def send_texting_request(context: BrowserContext, phone: str) -> str:
    patient = Patient(context.new_page(), "no-javascript")
    patient.answer_everything(answers_with())
    patient.submit("See my result")
    patient.follow("Request a consultation")
    patient.fill_contact({**CONTACT, "phone": phone, "preferred_contact": "text", "preferred_language": "en"})
    patient.tick("consent_text", ["y"])
    patient.submit("Continue")
    patient.submit("Send request")
    patient.expect_path("/request/sent")
    return patient.page.locator(".reference").inner_text().strip()


def worker_once(server: LiveServer, twilio: FakeTwilio) -> None:
    env = {**os.environ, "FLASK_CONFIG": "development", "DATABASE_URL": server.database_url,
           **{key: str(value) for key, value in texting_config(twilio).items()}}
    sent = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--once"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert sent.returncode == 0, sent.stderr


def admin_sets_the_week(admin: Page, open_day: date, holiday: date) -> None:
    admin.goto("/staff/admin/schedule")
    admin.locator("#place-name").fill("Main clinic")
    admin.locator("#place-address").fill("100 Example Street, San Francisco")
    admin.get_by_role("button", name="Add location").click()
    expect(admin.get_by_text("Location Main clinic added")).to_be_visible()
    for day in (open_day, holiday):
        admin.locator("#hours-location").select_option(label="Main clinic")
        admin.locator("#hours-weekday").select_option(value=str(day.weekday()))
        admin.locator("#hours-start").fill("09:00")
        admin.locator("#hours-end").fill("10:00")
        admin.locator("#hours-visit_minutes").fill("30")
        admin.locator("#hours-seats").fill("1")
        admin.get_by_role("button", name="Add hours").click()
        expect(admin.get_by_text("Hours added")).to_be_visible()
    admin.locator("#closed-first_day").fill(holiday.isoformat())
    admin.locator("#closed-reason").fill("Holiday")
    admin.get_by_role("button", name="Close to booking").click()
    expect(admin.get_by_role("cell", name="Holiday", exact=True)).to_be_visible()


@pytest.fixture(scope="module")
def week(browser: Browser, booking_server: LiveServer) -> Iterator[tuple[date, date]]:
    """The admin's weekly hours (two weekdays, 09:00 to 10:00, 30-minute visits) and a holiday on the second."""
    today = clinic_today(booking_server)
    open_day, holiday = today + timedelta(days=3), today + timedelta(days=4)
    context = browser.new_context(viewport=DESKTOP, base_url=booking_server.url, locale="en-US")
    try:
        admin = context.new_page()
        sign_in(admin, booking_server.staff)
        admin_sets_the_week(admin, open_day, holiday)
    finally:
        context.close()
    yield open_day, holiday


def send_booking_link(admin: Page, reference: str) -> None:
    admin.goto(f"/staff/requests/{reference}")
    admin.get_by_role("button", name="Send the patient a link to choose a time (text)").click()
    expect(admin.get_by_text("Saved.")).to_be_visible()


def open_link(twilio: FakeTwilio, phone: str) -> str:
    e164 = "+1" + "".join(ch for ch in phone if ch.isdigit())
    body = next(b for b in reversed(twilio.bodies_to(e164)) if "choose a time" in b)
    return re.search(r"https?://\S+/book/\S+", body).group(0)  # type: ignore[union-attr]


def test_staff_send_a_link_and_two_patients_race_for_one_time(browser: Browser, booking_server: LiveServer,
                                                              twilio: FakeTwilio, week: tuple[date, date]) -> None:
    open_day, holiday = week
    contexts = [browser.new_context(viewport=PHONE, base_url=booking_server.url, locale="en-US",
                                    java_script_enabled=False) for _ in range(2)]
    staff_context = browser.new_context(viewport=DESKTOP, base_url=booking_server.url, locale="en-US")
    try:
        admin = staff_context.new_page()
        sign_in(admin, booking_server.staff)

        phones = ["(415) 555-0171", "(415) 555-0172"]
        references = [send_texting_request(context, phone) for context, phone in zip(contexts, phones, strict=True)]
        for reference in references:
            send_booking_link(admin, reference)
        worker_once(booking_server, twilio)
        links = [open_link(twilio, phone) for phone in phones]

        first, second = (Patient(context.new_page(), "no-javascript") for context in contexts)
        for patient, link in ((first, links[0]), (second, links[1])):
            patient.goto(link)  # one location: straight to the day
            expect(patient.page.get_by_role("heading", name="Which day suits you?")).to_be_visible()
            offered = patient.page.eval_on_selector_all("input[type=radio][name='choice']",
                                                        "els => els.map(e => e.value)")
            assert offered[0] == open_day.isoformat() and holiday.isoformat() not in offered  # not the holiday
            assert (holiday + timedelta(days=7)).isoformat() in offered  # the same weekday a week later is
            patient.choose("choice", open_day.isoformat())
            patient.submit("Continue")
            expect(patient.page.get_by_role("heading", name=re.compile("What time on"))).to_be_visible()
            nine = patient.page.get_by_label("9:00 AM")
            nine.check()
            patient.submit("Continue")
            expect(patient.page.get_by_role("heading", name="Check your visit before you book it")).to_be_visible()
            assert patient.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        first.submit("Book this time")
        expect(first.page.get_by_role("heading", name="Your visit is booked")).to_be_visible()
        expect(first.page.get_by_text("9:00 AM")).to_be_visible()
        expect(first.page.get_by_role("heading", name="Before your visit")).to_be_visible()
        assert first.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        second.submit("Book this time")  # the same time, a moment later
        expect(second.page.locator(".error-summary")).to_contain_text(
            "That time has just been booked by someone else. Choose another time.")
        expect(second.page.get_by_label("9:00 AM")).to_have_count(0)
        second.page.get_by_label("9:30 AM").check()
        second.submit("Continue")
        second.submit("Book this time")
        expect(second.page.get_by_role("heading", name="Your visit is booked")).to_be_visible()

        used = first.page.goto(links[0])
        assert used is not None and used.status == 410  # the link worked once
        expect(first.page.get_by_role("heading", name="This link has been used")).to_be_visible()

        worker_once(booking_server, twilio)  # the confirmation goes by text, with the place
        e164 = "+1" + "".join(ch for ch in phones[0] if ch.isdigit())
        confirmation = twilio.bodies_to(e164)[-1]
        assert "your visit is booked for" in confirmation and "9:00 AM" in confirmation
        assert "Main clinic, 100 Example Street" in confirmation and CONTACT["last_name"] not in confirmation

        admin.goto(f"/staff/day?date={open_day.isoformat()}")
        rows = admin.locator("table.day-list tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text(references[0])
        expect(rows.nth(1)).to_contain_text(references[1])
        admin.emulate_media(media="print")  # printed: the list, without the menu and the day picker
        expect(admin.get_by_role("navigation", name="Console")).to_be_hidden()
        expect(admin.get_by_role("navigation", name="Other days")).to_be_hidden()
        expect(rows.nth(0)).to_be_visible()
    finally:
        for context in (*contexts, staff_context):
            context.close()


def test_the_booking_pages_pass_the_accessibility_checks(browser: Browser, booking_server: LiveServer,
                                                         twilio: FakeTwilio, week: tuple[date, date]) -> None:
    """axe, keyboard focus, contrast, text size, touch targets and no sideways scrolling, on each booking page
    in each state (the patient's in English and Spanish), and on the admin's and the day list."""
    open_day, _ = week
    staff_context = browser.new_context(viewport=DESKTOP, base_url=booking_server.url, locale="en-US")
    stops: list[Stop] = []
    try:
        admin = staff_context.new_page()
        sign_in(admin, booking_server.staff)
        for language, phone in (("en", "(415) 555-0173"), ("es", "(415) 555-0174")):
            context = browser.new_context(viewport=PHONE, base_url=booking_server.url, locale="en-US")
            try:
                reference = send_texting_request(context, phone)
                send_booking_link(admin, reference)
                worker_once(booking_server, twilio)
                page = context.new_page()
                link = open_link(twilio, phone)
                path = link.split("://", 1)[1].split("/", 1)[1]
                use_language(page, booking_server, language, "/" + path)
                stops.append(measure(page, "booking day", language, "empty"))
                submit(page)
                stops.append(measure(page, "booking day", language, "errors"))
                page.locator("input[name='choice']").first.check()  # open_day may be full already
                submit(page)
                stops.append(measure(page, "booking time", language, "empty"))
                submit(page)
                stops.append(measure(page, "booking time", language, "errors"))
                page.locator("input[name='choice']").last.check()
                submit(page)
                stops.append(measure(page, "booking check", language, "empty"))
                submit(page)
                stops.append(measure(page, "booked", language, "empty"))
                expect(page.locator("h1")).to_have_text("Your visit is booked" if language == "en"
                                                        else "Su cita está reservada")
            finally:
                context.close()
        admin.goto("/staff/admin/schedule")
        stops.append(measure(admin, "consultation times", "en", "filled", patient=False))
        admin.get_by_role("button", name="Close to booking").click()
        stops.append(measure(admin, "consultation times", "en", "errors", patient=False))
        admin.goto(f"/staff/day?date={open_day.isoformat()}")
        stops.append(measure(admin, "day list", "en", "filled", patient=False))
    finally:
        staff_context.close()
    assert len(stops) == 15
    for attribute in ("axe", "keyboard", "contrast", "font", "targets", "overflow"):
        check(stops, attribute)
