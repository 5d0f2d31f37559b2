"""Nothing a patient typed is lost (issue 21), in a real browser with JavaScript on and off, at 360 px.

The contact form sent at autofill speed, and the age fixed from the contact form, each keep every detail; the
confirmation still reassures once the session has ended.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pytest
from playwright.sync_api import BrowserContext, expect
from sqlalchemy import text

from tests.answers import answers_with
from tests.browser.conftest import LiveServer
from tests.browser.patient import Patient
from tests.conftest import raw_connection
from tests.journey import CONTACT

pytestmark = pytest.mark.browser

MODES = ("javascript", "no-javascript")
TEXT_BOXES = ("first_name", "last_name", "date_of_birth", "date_of_birth-day", "date_of_birth-year", "phone")


def _patient(new_context: Callable[..., BrowserContext], mode: str, base_url: str | None = None) -> Patient:
    options = {"java_script_enabled": mode == "javascript", **({"base_url": base_url} if base_url else {})}
    return Patient(new_context(**options).new_page(), mode)


def _to_contact_form(patient: Patient, age: int = 72) -> None:
    patient.answer_everything(answers_with(age=age))
    patient.submit("See my result")
    patient.follow("Request a consultation")
    patient.expect_path("/request")


def _expect_contact_kept(patient: Patient) -> None:
    """Every one of the ten details is on the form as CONTACT typed it."""
    page = patient.page
    values = {"date_of_birth": CONTACT["date_of_birth-month"]}
    for box in TEXT_BOXES:
        expect(page.locator(f"#{box}")).to_have_value(values.get(box, CONTACT.get(box, "")))
    expect(page.locator("#message")).to_have_value(CONTACT["message"])
    for name in ("preferred_contact", "best_time", "preferred_language", "insurance", "voicemail"):
        expect(page.locator(f"input[name={name}][value={CONTACT[name]}]")).to_be_checked()
    expect(page.locator("#consent_contact")).to_be_checked()


@pytest.mark.parametrize("mode", MODES)
def test_a_form_sent_at_autofill_speed_comes_back_filled_in(
    new_context: Callable[..., BrowserContext], timed_server: LiveServer, mode: str
) -> None:
    patient = _patient(new_context, mode, timed_server.url)
    _to_contact_form(patient)
    patient.fill_contact(CONTACT)  # Playwright types the whole form well inside the 3 s minimum
    patient.submit("Continue")
    patient.expect_path("/request")
    expect(patient.page.get_by_role("alert")).to_contain_text("Please check your details, then select Continue.")
    expect(patient.page.locator(".error-summary")).to_have_count(0)
    _expect_contact_kept(patient)
    patient.page.wait_for_timeout(3_000)  # a person reading the line and checking
    patient.submit("Continue")
    patient.expect_path("/request/check")
    expect(patient.page.locator("main")).to_contain_text(CONTACT["last_name"])


@pytest.mark.parametrize("mode", MODES)
def test_fixing_the_age_from_the_contact_form_keeps_all_ten_details(
    new_context: Callable[..., BrowserContext], mode: str
) -> None:
    patient = _patient(new_context, mode)
    _to_contact_form(patient, age=60)  # CONTACT's date of birth makes them 72
    patient.fill_contact(CONTACT)
    patient.submit("Continue")
    summary = patient.page.locator(".error-summary")
    expect(summary).to_contain_text("but you told us you are 60")
    patient.follow(re.compile(r"^Change your age in your answers$"))  # not the error summary's link
    patient.expect_path("/questions/age")
    patient.type_into("age", "72")
    patient.submit("Continue")
    patient.expect_path("/request")
    _expect_contact_kept(patient)
    expect(summary).to_have_count(0)
    patient.submit("Continue")
    patient.expect_path("/request/check")
    expect(patient.page.locator("main")).to_contain_text("April 3, 1954")


@pytest.mark.parametrize("mode", MODES)
def test_the_confirmation_reassures_after_the_session_has_ended(
    new_context: Callable[..., BrowserContext], live_server: LiveServer, mode: str
) -> None:
    patient = _patient(new_context, mode)
    patient.answer_everything(answers_with())
    patient.submit("See my result")
    reference = patient.send_request()
    with raw_connection(live_server.database_url) as connection:  # two idle hours pass: the draft expires
        connection.execute(text("UPDATE draft SET updated_at = :old"), {"old": datetime(2000, 1, 1)})
    patient.page.reload()
    heading = patient.page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Your request is safe with the clinic")
    main = patient.page.locator("main")
    expect(main).to_contain_text(reference)
    expect(main).to_contain_text("(415) 555-0134")
    expect(main).not_to_contain_text("deleted")
    # Going back to change an answer says the clinic has the request; no blank contact form follows.
    patient.goto("/questions/age")
    expect(heading).to_have_text("The clinic already has your request")
    expect(patient.page.locator("input[name=age]")).to_have_count(0)


@pytest.mark.parametrize("mode", MODES)
def test_switching_language_mid_page_keeps_a_half_filled_page(
    new_context: Callable[..., BrowserContext], mode: str
) -> None:
    patient = _patient(new_context, mode)
    page = patient.page
    patient.goto("/questions/safety")
    patient.answer_and_continue("safety", {"red_flags": ["none"]})
    patient.answer("symptoms", {"leg_symptoms": "one_side"})  # one of the two questions
    page.get_by_role("button", name="Español").click()
    page.wait_for_load_state()
    patient.expect_path("/questions/symptoms")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("input[name=leg_symptoms][value=one_side]")).to_be_checked()
    expect(page.locator(".error-summary")).to_have_count(0)
    # Back to English with the second answer chosen too: both kept, still on the same page.
    patient.answer("symptoms", {"main_pain": "legs"})
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    patient.expect_path("/questions/symptoms")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("input[name=leg_symptoms][value=one_side]")).to_be_checked()
    expect(page.locator("input[name=main_pain][value=legs]")).to_be_checked()


@pytest.mark.parametrize("mode", MODES)
def test_switching_language_on_the_contact_form_keeps_what_was_typed(
    new_context: Callable[..., BrowserContext], mode: str
) -> None:
    patient = _patient(new_context, mode)
    _to_contact_form(patient)
    patient.type_into("first_name", CONTACT["first_name"])
    patient.type_into("phone", CONTACT["phone"])
    patient.choose("best_time", CONTACT["best_time"])
    patient.page.get_by_role("button", name="Español").click()
    patient.page.wait_for_load_state()
    patient.expect_path("/request")
    expect(patient.page.locator("html")).to_have_attribute("lang", "es")
    expect(patient.page.locator("#first_name")).to_have_value(CONTACT["first_name"])
    expect(patient.page.locator("#phone")).to_have_value(CONTACT["phone"])
    expect(patient.page.locator(f"input[name=best_time][value={CONTACT['best_time']}]")).to_be_checked()
