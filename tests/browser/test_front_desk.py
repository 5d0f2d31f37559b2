"""A front-desk morning in a real browser: sign in, My calls, assign to me, an emergency through the
protocol, contact attempts, a call-back time that comes due, a search for "hernandez", a printed handover,
and the call list on a 360-pixel phone, with axe on each new page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.answers import answers_with
from tests.browser.conftest import DESKTOP, PHONE, LiveServer
from tests.browser.patient import FLOW, Patient
from tests.browser.test_accessibility import check, measure, sign_in
from tests.journey import CONTACT

pytestmark = pytest.mark.browser


def send(patient: Patient, answers: dict[str, object], last_name: str, phone: str, emergency: bool = False) -> str:
    """A patient answers, sees the result and sends a request; the reference shown."""
    patient.goto("/")
    patient.follow("Start now")
    if emergency:
        patient.answer("safety", answers)
        patient.submit()
        patient.expect_path("/get-help-now")
        patient.follow("Carry on with the questions")
        flow = FLOW[1:]
    else:
        flow = FLOW
    for slug in flow:
        patient.answer_and_continue(slug, answers)
    patient.submit("See my result")
    patient.follow("Request a consultation")
    patient.fill_contact({**CONTACT, "last_name": last_name, "phone": phone})
    patient.submit("Continue")
    patient.submit("Send request")
    patient.expect_path("/request/sent")
    return patient.page.locator(".reference").inner_text().strip()


def log_attempt(page: Page, method: str, outcome: str) -> None:
    form = page.locator("form", has_text="Log a contact attempt")
    form.get_by_label(method, exact=True).check()
    form.get_by_label(outcome, exact=True).check()
    form.get_by_role("button", name="Log attempt").click()
    expect(page.locator(".flash--success")).to_have_text("Saved.")


def test_a_front_desk_morning(new_context: Callable[..., BrowserContext], live_server: LiveServer) -> None:
    emergency = send(Patient(new_context().new_page(), "javascript"),
                     answers_with(red_flags=["saddle_numbness"]), "Okafor", "(415) 555-0142", emergency=True)
    hernandez = send(Patient(new_context().new_page(), "javascript"), answers_with(), "Hernández García",
                     "(415) 555-0143")

    page = new_context(viewport=DESKTOP).new_page()
    stops = []
    sign_in(page, live_server.staff)
    expect(page).to_have_url(re.compile("/staff/requests"))
    page.get_by_role("link", name="My calls").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My calls")

    # The emergency is at the top of the call list: assign it to me in one click, then the protocol.
    page.get_by_role("link", name="Call list").first.click()
    first_row = page.locator("table.call-list tbody tr").first
    expect(first_row).to_contain_text(emergency)
    expect(first_row).to_contain_text("Emergency")
    first_row.get_by_role("button", name=re.compile("Assign to me")).click()
    expect(page.get_by_role("heading", name="Emergency: call this patient now")).to_be_visible()
    expect(page.locator("main")).to_contain_text("New numbness in your groin")
    stops.append(measure(page, "staff emergency request", "en", "filled", patient=False))
    log_attempt(page, "Phone call", "Reached")
    protocol = page.locator("form", has_text="Record the steps you have done")
    protocol.get_by_label(re.compile("they had not gone")).check()
    protocol.get_by_label("I told the clinician on call").check()
    protocol.get_by_role("button", name="Record steps").click()
    done = page.locator(".protocol-done")
    expect(done).to_contain_text("Done: Asked: they had not gone. I told them to call 911 now")
    expect(done).to_contain_text("Done: I told the clinician on call")

    # Search without the accent; the patient does not answer and asks (by text) to be called at 10:30.
    page.get_by_role("link", name="Call list").first.click()
    page.locator("#q").fill("hernandez")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.call-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Hernández García")
    rows.first.get_by_role("button", name=re.compile("Assign to me")).click()
    log_attempt(page, "Phone call", "No answer")
    now = datetime.now(ZoneInfo("America/Los_Angeles"))
    callback = page.locator("form", has_text="Call back at")
    callback.get_by_label("Date").fill(now.strftime("%Y-%m-%d"))
    callback.get_by_label("Time").fill(now.strftime("%H:%M"))  # this minute: it is due at once
    callback.get_by_role("button", name="Set call-back time").click()
    expect(page.locator(".flash--success")).to_have_text("Saved.")
    page.goto("/staff/requests?view=due")
    due_row = page.locator("table.call-list tbody tr", has_text=hernandez)
    expect(due_row).to_contain_text("Call back now")
    expect(due_row).to_contain_text("1 try")
    stops.append(measure(page, "staff due now", "en", "filled", patient=False))

    # My calls holds both; the handover prints the notes, timeline and assignee.
    page.get_by_role("link", name="My calls").first.click()
    expect(page.locator("table.call-list tbody tr")).to_have_count(2)
    mine = page.locator("table.call-list tbody tr", has_text=hernandez)
    mine.get_by_role("link", name=re.compile("Hernández")).click()
    page.get_by_role("link", name="Printable summary").click()
    expect(page.locator("main")).to_contain_text("Handover")
    expect(page.locator("main")).to_contain_text("tried to reach the patient by phone call: no answer")
    expect(page.locator("main")).to_contain_text("Assigned to")
    stops.append(measure(page, "staff handover print", "en", "filled", patient=False))

    # On a phone: the call list becomes cards, with no sideways scroll.
    page.set_viewport_size(PHONE)
    page.goto("/staff/requests")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 362).slice(0, 12)
        .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)""")  # what overflows
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], wide
    stops.append(measure(page, "staff call list (phone)", "en", "filled", patient=False))
    check(stops, "axe")
