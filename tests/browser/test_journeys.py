"""Journeys in a real browser: each patient journey three ways (JavaScript on, off, keyboard only), then staff.

The server is gunicorn with two workers on a migrated database (tests/browser/conftest.py). The patient
journey with JavaScript on also writes phone and desktop screenshots of every page it passes to
artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import text

from tests.answers import EVERY_PAGE_ANSWERS, answers_with
from tests.browser.conftest import LiveServer
from tests.browser.patient import EVERY_PAGE_FLOW, FLOW, MODES, Patient, screenshots_folder
from tests.conftest import raw_connection

pytestmark = pytest.mark.browser

LIKELY = "Your answers match the kind of problem MILD treats"


def patient_in(new_context: Callable[..., BrowserContext], mode: str, screenshots: bool = False) -> Patient:
    context = new_context(java_script_enabled=mode != "no-javascript")
    return Patient(context.new_page(), mode, screenshots_folder() if screenshots else None)


def stored_request(live_server: LiveServer, reference: str) -> tuple[str, str, str] | None:
    with raw_connection(live_server.database_url) as connection:
        row = connection.execute(
            text("SELECT category, status, preferred_language FROM consultation_request WHERE reference = :r"),
            {"r": reference},
        ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


@pytest.mark.parametrize("mode", MODES)
def test_patient_gets_a_likely_result_and_sends_a_request(
    new_context: Callable[..., BrowserContext], live_server: LiveServer, mode: str
) -> None:
    patient = patient_in(new_context, mode, screenshots=mode == "javascript")
    patient.answer_everything(answers_with())
    patient.shoot("check-your-answers")
    patient.submit("See my result")
    patient.expect_path("/result")
    expect(patient.page.get_by_role("heading", level=1)).to_have_text(LIKELY)
    patient.shoot("result")

    reference = patient.send_request()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", reference), reference
    assert stored_request(live_server, reference) == ("likely", "new", "es")

    patient.goto("/session-ended")  # where an expired draft leads: after sending, it reassures
    expect(patient.page.get_by_role("heading", level=1)).to_have_text("Your request is safe with the clinic")
    patient.shoot("session-ended")
    if mode == "javascript":
        assert len(patient.shot) == 2 * (len(FLOW) + 7)


@pytest.mark.parametrize("mode", MODES)
def test_emergency_answer_sends_the_patient_for_help_at_once(
    new_context: Callable[..., BrowserContext], live_server: LiveServer, mode: str
) -> None:
    patient = patient_in(new_context, mode, screenshots=mode == "javascript")
    patient.goto("/")
    patient.follow("Start now")
    patient.answer("safety", {"red_flags": ["bladder_bowel", "fever"]})
    patient.submit()
    patient.expect_path("/get-help-now")
    expect(patient.page.get_by_role("heading", level=1)).to_have_text("Get medical help now")
    expect(patient.page.get_by_role("link", name="911")).to_have_attribute("href", "tel:911")
    patient.shoot("get-help-now")

    patient.follow("Carry on with the questions")
    answers = answers_with(red_flags=["bladder_bowel", "fever"])
    for slug in FLOW[1:]:
        patient.answer_and_continue(slug, answers)
    patient.submit("See my result")
    patient.expect_path("/result")
    expect(patient.page.get_by_role("heading", level=1)).to_have_text("Get medical help now")
    patient.shoot("result-emergency")


@pytest.mark.parametrize("mode", MODES)
def test_validation_errors_are_shown_focused_and_corrected(
    new_context: Callable[..., BrowserContext], mode: str
) -> None:
    patient = patient_in(new_context, mode, screenshots=mode == "javascript")
    page = patient.page
    patient.goto("/")
    patient.follow("Start now")
    patient.submit()  # nothing ticked
    patient.expect_path("/questions/safety")
    expect(page).to_have_title(re.compile(r"^Error: Urgent warning signs"))
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()  # the autofocus attribute: works with JavaScript off as well
    expect(summary.get_by_role("link")).to_have_text(["Select the problems you have, or select ‘None of these’"])
    patient.shoot("question-safety-errors")
    patient.follow("Select the problems you have, or select ‘None of these’")
    expect(page).to_have_url(re.compile(r"#red_flags$"))

    patient.answer("safety", {"red_flags": ["none"]})
    patient.submit()
    answers = answers_with(age="old")
    patient.answer("symptoms", {"leg_symptoms": "both_sides"})
    patient.submit()
    patient.expect_path("/questions/symptoms")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text(["Select which bothers you more"])
    expect(page.locator("input[name=leg_symptoms][value=both_sides]")).to_be_checked()  # kept, not lost
    patient.shoot("question-symptoms-errors")
    patient.answer("symptoms", answers)
    patient.submit()
    patient.answer_and_continue("standing-and-walking", answers)

    patient.expect_path("/questions/pain")
    expect(page.locator("main .caption")).to_have_text("Step 2 of 5")  # still the symptoms step, page 3 of 4
    patient.answer("pain", {"symptom_duration": answers["symptom_duration"]})
    patient.submit()
    expect(summary.get_by_role("link")).to_have_text(["Select a number from 0 to 10 for your pain"])
    expect(page.locator("fieldset:has(#pain_score)")).to_have_attribute("aria-describedby",
                                                                    "pain_score-hint pain_score-error")
    expect(page.locator(f"input[name=symptom_duration][value={answers['symptom_duration']}]")).to_be_checked()
    patient.answer_and_continue("pain", {"pain_score": 7})

    patient.answer("age", answers)
    patient.submit()
    expect(summary.get_by_role("link")).to_have_text([re.compile(r"^Age must be a whole number")])
    patient.type_into("age", "72")
    patient.submit()
    patient.expect_path("/questions/treatments")
    expect(page.locator(".error-summary")).to_have_count(0)


@pytest.mark.parametrize("mode", MODES)
def test_change_links_and_the_back_button(new_context: Callable[..., BrowserContext], mode: str) -> None:
    patient = patient_in(new_context, mode)
    page = patient.page
    patient.answer_everything(answers_with())
    pain_row = page.locator(".summary-list-row", has_text="Average pain (0 to 10)")
    expect(pain_row.locator(".summary-list-value")).to_have_text("7")

    patient.follow("Change average pain (0 to 10)")
    expect(page).to_have_url(re.compile(r"/questions/pain\?return=check#pain_score$"))
    expect(page.locator("input[name=pain_score][value='7']")).to_be_checked()
    patient.choose("pain_score", "4")
    patient.submit()
    patient.expect_path("/check-your-answers")
    expect(pain_row.locator(".summary-list-value")).to_have_text("4")

    # A change that removes a question: no scan, so no scan results to show.
    patient.follow("Change mri or ct scan")
    patient.choose("had_mri", "no")
    patient.submit()
    patient.expect_path("/check-your-answers")
    expect(page.locator(".summary-list-row", has_text="What the scan showed")).to_have_count(0)

    # The browser's own Back and Forward buttons: pages are fetched again (no-store), answers kept.
    page.go_back()
    patient.expect_path("/questions/imaging")
    expect(page.locator("input[name=had_mri][value=no]")).to_be_checked()
    page.go_back()
    patient.expect_path("/check-your-answers")
    page.go_forward()
    patient.expect_path("/questions/imaging")

    # The page's Back links.
    patient.follow("Back")
    patient.expect_path("/check-your-answers")
    patient.follow("Back")
    patient.expect_path("/questions/health")
    patient.follow("Back")
    patient.expect_path("/questions/imaging")  # the scan results page no longer applies
    expect(page.locator("input[name=had_mri][value=no]")).to_be_checked()


@pytest.mark.parametrize("mode", MODES)
def test_the_conditional_questions_of_2026_2_come_only_when_they_apply(
    new_context: Callable[..., BrowserContext], live_server: LiveServer, mode: str
) -> None:
    """Back surgery brings "what kind", a blood thinner brings "must it not be stopped"; with JavaScript off too."""
    patient = patient_in(new_context, mode)
    page = patient.page
    patient.answer_everything(EVERY_PAGE_ANSWERS, EVERY_PAGE_FLOW)  # answer_everything checks each page's path
    for summary, answer in (("Kind of back surgery", "Surgery to make more room for the nerves"),
                            ("Blood thinner must not be stopped", "No")):
        row = page.locator(".summary-list-row", has_text=summary)
        expect(row.locator(".summary-list-value")).to_have_text(answer)

    patient.follow("Change blood thinner must not be stopped")
    expect(page).to_have_url(re.compile(r"/questions/blood-thinner\?return=check#thinner_hold_risk$"))
    patient.choose("thinner_hold_risk", "yes")
    patient.submit()
    patient.expect_path("/check-your-answers")

    # No more back surgery: its follow-up question goes, and is not asked again.
    patient.follow("Change surgery on lower back")
    patient.choose("prior_back_surgery", "no")
    patient.submit()
    patient.expect_path("/check-your-answers")
    expect(page.locator(".summary-list-row", has_text="Kind of back surgery")).to_have_count(0)
    patient.submit("See my result")
    patient.expect_path("/result")
    # A thinner that must not be stopped: a "before your visit" note, and still a likely fit.
    expect(page.get_by_role("heading", level=1)).to_have_text(LIKELY)
    note = "Bring the name of the doctor who said your blood thinner must not be stopped"
    expect(page.get_by_text(note)).to_be_visible()


def test_staff_sign_in_find_the_new_request_and_change_its_status(
    new_context: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    patient = patient_in(new_context, "javascript")
    patient.answer_everything(answers_with())
    patient.submit("See my result")
    reference = patient.send_request()

    staff: Page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    staff.goto("/staff/requests")
    expect(staff).to_have_url(re.compile(r"/staff/login"))
    staff.get_by_label("Email").fill(live_server.staff["email"])
    staff.get_by_label("Password").fill(live_server.staff["password"])
    staff.get_by_role("button", name="Sign in").click()
    expect(staff).to_have_url(re.compile(r"/staff/requests"))
    expect(staff.locator("table.call-list tbody tr", has_text=reference)).to_be_visible()

    staff.get_by_label("Search").fill(reference)
    staff.get_by_role("button", name="Apply").click()
    rows = staff.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("García, Ana")
    rows.first.get_by_role("link", name="García, Ana").click()

    expect(staff.get_by_role("heading", level=1)).to_contain_text(f"{reference} · Ana García")
    status_line = staff.locator("main > p:has(strong)").first
    expect(status_line.locator("strong")).to_have_text("New")
    staff.locator("form", has_text="Change status").get_by_label("New status").select_option("in_progress")
    staff.get_by_role("button", name="Change status").click()
    expect(status_line.locator("strong")).to_have_text("In progress")
    expect(staff.locator(".timeline")).to_contain_text("moved it from new to in progress")
    assert stored_request(live_server, reference) == ("likely", "in_progress", "es")
