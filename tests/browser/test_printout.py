"""A result the patient can keep, in a real browser: "Print or save this page" and what the printout shows.

``page.emulate_media(media="print")`` applies the print rules of site.css, so what is visible is what goes on
paper: the clinic's name and phone, the date, the result, the reasons and the checklist; no navigation,
language switch, buttons or footer, and no contact details. Also a phone screenshot of an education page.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from app.screening.checklist import CAUTION_ITEMS
from tests.answers import answers_with
from tests.browser.conftest import PHONE
from tests.browser.patient import EVERY_PAGE_FLOW, FLOW, Patient, screenshots_folder
from tests.journey import CONTACT
from tests.patient_pages import RESULT_ANSWERS

pytestmark = pytest.mark.browser

ANSWERS = answers_with(blood_thinners=["anticoagulant"], thinner_hold_risk="no", had_mri="yes_older",
                       can_lie_prone="no")  # K1, K8, K3
# The pages ANSWERS go through: a blood thinner brings its follow-up question.
FLOW_WITH_THINNER = (*FLOW, "blood-thinner")
PRINT_BUTTON = "Print or save this page"


def result_page(new_context: Callable[..., BrowserContext], javascript: bool = True) -> Patient:
    mode = "javascript" if javascript else "no-javascript"
    patient = Patient(new_context(java_script_enabled=javascript).new_page(), mode)
    patient.answer_everything(ANSWERS, FLOW_WITH_THINNER)
    patient.submit("See my result")
    patient.expect_path("/result")
    return patient


def expect_printout(page: Page) -> None:
    """With the print styles applied: the keepsake is visible, everything to click or switch is not."""
    page.emulate_media(media="print")
    for hidden in (".header", ".language-select", ".footer", ".learn-nav", ".print-actions", "main .button",
                   ".skip-link"):
        for index in range(page.locator(hidden).count()):
            expect(page.locator(hidden).nth(index)).to_be_hidden()
    expect(page.locator(".print-heading")).to_be_visible()
    expect(page.locator(".print-heading")).to_contain_text("(415) 555-0134")
    expect(page.locator(".print-heading")).to_contain_text(re.compile(r"self-check, \w+ \d{1,2}, \d{4}"))
    expect(page.locator(".checklist")).to_be_visible()
    for caution in ("K1", "K3", "K8"):
        expect(page.locator(f".checklist [data-item={caution}]")).to_have_text(CAUTION_ITEMS[caution])
    box = "e => getComputedStyle(e, '::before').content"
    assert page.locator(".checklist li").first.evaluate(box) == '""'  # a box to tick on paper
    page.emulate_media(media="screen")
    expect(page.locator(".print-heading")).to_be_hidden()
    assert page.locator(".checklist li").first.evaluate(box) == "none"  # on screen, no box that cannot be ticked
    expect(page.locator(".language-select")).to_be_visible()


def test_result_printout_with_javascript(new_context: Callable[..., BrowserContext]) -> None:
    page = result_page(new_context).page
    page.evaluate("() => { window.print = () => { window.printedTimes = (window.printedTimes || 0) + 1; }; }")
    button = page.get_by_role("button", name=PRINT_BUTTON)
    expect(button).to_be_visible()
    expect(page.locator("[data-print-hint]")).to_be_hidden()
    button.click()
    assert page.evaluate("window.printedTimes") == 1
    expect_printout(page)
    page.emulate_media(media="print")
    printed = page.locator("body").inner_text()
    expect(page.get_by_role("heading", level=1)).to_be_visible()  # the result in words
    assert "Why we say this" in printed  # the reasons
    page.emulate_media(media="screen")


def test_result_printout_without_javascript(new_context: Callable[..., BrowserContext]) -> None:
    page = result_page(new_context, javascript=False).page
    expect(page.get_by_role("button", name=PRINT_BUTTON)).to_have_count(0)  # hidden: it could not work
    expect(page.locator("[data-print-hint]")).to_be_visible()
    expect(page.locator("[data-print-hint]")).to_contain_text("choose Print")
    expect_printout(page)


def test_confirmation_printout_keeps_the_reference_and_no_contact_details(
    new_context: Callable[..., BrowserContext],
) -> None:
    patient = result_page(new_context)
    reference = patient.send_request()
    page = patient.page
    expect(page.get_by_role("button", name=PRINT_BUTTON)).to_be_visible()
    expect_printout(page)
    page.emulate_media(media="print")
    printed = page.locator("body").inner_text()
    page.emulate_media(media="screen")
    assert reference in printed
    for detail in (CONTACT["first_name"], CONTACT["last_name"], "555-0199", CONTACT["message"]):
        assert detail not in printed


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_a_result_with_every_caution_prints_on_two_pages_at_most(
    new_context: Callable[..., BrowserContext], paper: str
) -> None:
    patient = Patient(new_context().new_page(), "javascript")
    patient.answer_everything(RESULT_ANSWERS["likely"], EVERY_PAGE_FLOW)  # nine cautions: the longest checklist
    patient.submit("See my result")
    patient.expect_path("/result")
    pdf = patient.page.pdf(format=paper)  # Chromium's own print, with the print styles
    assert 1 <= len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf)) <= 2


def test_learn_pages_from_the_start_page_and_a_phone_screenshot(new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(viewport=PHONE).new_page()
    page.goto("/")
    page.get_by_role("link", name="Learn about MILD and what to expect").click()
    expect(page).to_have_url(re.compile("/learn/about-mild$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("About MILD")
    page.get_by_role("link", name="Next: what to expect").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What to expect")
    page.screenshot(path=str(screenshots_folder() / "learn-what-to-expect-phone.png"), full_page=True)
    footer = page.get_by_role("navigation", name="Learn about MILD")
    expect(footer.get_by_role("link")).to_have_text(
        ["About MILD", "What to expect", "What the research says", "Questions and answers"])
    expect(footer.get_by_role("link", name="What to expect")).to_have_attribute("aria-current", "page")
