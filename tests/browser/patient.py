"""A patient in a real browser, driven with the mouse (JavaScript on or off) or with the keyboard only.

``Patient`` answers the questionnaire from the answer dictionaries of tests/answers.py. In ``keyboard``
mode it never clicks: it moves with Tab, picks radios with the arrow keys (or Space for the first one),
ticks checkboxes with Space, types into text boxes, and presses Enter on links and buttons.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from app.screening.questions import BY_FIELD, PAGE_BY_SLUG, Kind
from tests.browser.conftest import DESKTOP, MAX_TABS, PHONE, SCREENSHOTS
from tests.journey import CONTACT

MODES = ("javascript", "no-javascript", "keyboard")
# The pages the base answers of tests/answers.py go through, in order.
SYMPTOM_PAGES = ("symptoms", "standing-and-walking", "pain", "age")
FLOW = ("safety", *SYMPTOM_PAGES, "treatments", "treatment-time", "imaging", "scan-results", "health")
# The pages of tests/answers.py's EVERY_PAGE_ANSWERS: every conditional question asked.
EVERY_PAGE_FLOW = ("safety", *SYMPTOM_PAGES, "treatments", "treatment-time", "surgery-type", "imaging", "scan-results",
                   "health", "blood-thinner")


class Patient:
    """One patient's browser tab."""

    def __init__(self, page: Page, mode: str, screenshots: Path | None = None) -> None:
        self.page = page
        self.mode = mode
        self.screenshots = screenshots
        self.shot: list[Path] = []

    @property
    def keyboard(self) -> bool:
        return self.mode == "keyboard"

    # --- moving around ---------------------------------------------------------------------------------

    def goto(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.ok, f"GET {path}: {response and response.status}"

    def tab_to(self, selector: str) -> None:
        """Press Tab until the focused element matches ``selector``; fail if it is never reached."""
        for _ in range(MAX_TABS):
            self.page.keyboard.press("Tab")
            if self.page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"{selector} cannot be reached with the Tab key on {self.page.url}")

    def press_and_wait(self, key: str) -> None:
        """Press ``key`` on the focused link or button and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.keyboard.press(key)

    def follow(self, name: str | re.Pattern[str]) -> None:
        """Follow the link (or link styled as a button) with this accessible name."""
        self._activate(self.page.get_by_role("link", name=name).or_(self.page.get_by_role("button", name=name)).first)

    def submit(self, name: str | re.Pattern[str] = "Continue") -> None:
        """Press the form's button."""
        self._activate(self.page.get_by_role("button", name=name))

    def _activate(self, target: Locator) -> None:
        """Click ``target``, or Tab to it and press Enter; wait for the page it leads to."""
        if self.keyboard:
            target.evaluate("e => { e.dataset.target = 'next'; }")
            self.tab_to("[data-target='next']")
            self.press_and_wait("Enter")
        else:
            target.click()
        self.page.wait_for_load_state()

    def expect_path(self, path: str) -> None:
        expect(self.page).to_have_url(re.compile(re.escape(path) + r"(\?[^#]*)?(#.*)?$"))

    # --- answering ----------------------------------------------------------------------------------------

    def choose(self, name: str, code: str) -> None:
        """Pick one radio button of the group ``name``."""
        target = self.page.locator(f"input[type=radio][name='{name}'][value='{code}']")
        if not self.keyboard:
            target.check()
            return
        codes: list[str] = self.page.eval_on_selector_all(
            f"input[type=radio][name='{name}']", "els => els.map(e => e.value)"
        )
        self.tab_to(f"input[type=radio][name='{name}']")  # lands on the checked radio, or the first
        current = codes.index(self.page.evaluate("document.activeElement.value"))
        wanted = codes.index(code)
        if current == wanted:
            self.page.keyboard.press("Space")
        for _ in range(abs(wanted - current)):
            self.page.keyboard.press("ArrowDown" if wanted > current else "ArrowUp")
        expect(target).to_be_checked()

    def tick(self, name: str, codes: list[str]) -> None:
        """Tick exactly these checkboxes of the group ``name``."""
        boxes = self.page.locator(f"input[type=checkbox][name='{name}']")
        for index in range(boxes.count()):
            box = boxes.nth(index)
            wanted = box.get_attribute("value") in codes
            if box.is_checked() == wanted:
                continue
            if self.keyboard:
                self.tab_to(f"#{box.get_attribute('id')}")
                self.page.keyboard.press("Space")
            else:
                box.click()
            expect(box).to_be_checked(checked=wanted)

    def type_into(self, element_id: str, text: str) -> None:
        """Replace the text of a text box."""
        box = self.page.locator(f"#{element_id}")
        if self.keyboard:
            self.tab_to(f"#{element_id}")
            self.page.keyboard.press("ControlOrMeta+A")
            self.page.keyboard.press("Delete")
            if text:
                self.page.keyboard.type(text)
        else:
            box.fill(text)
        expect(box).to_have_value(text)

    def answer(self, slug: str, answers: Mapping[str, Any]) -> None:
        """Answer the questions of page ``slug`` that ``answers`` has (nothing else)."""
        self.expect_path(f"/questions/{slug}")
        for name in PAGE_BY_SLUG[slug].fields:
            if name not in answers:
                continue
            question, value = BY_FIELD[name], answers[name]
            if question.kind is Kind.MULTI:
                self.tick(name, list(value))
            elif question.kind is Kind.INTEGER and not question.scale:
                self.type_into(name, str(value))
            else:
                self.choose(name, str(value))

    def answer_and_continue(self, slug: str, answers: Mapping[str, Any]) -> None:
        self.answer(slug, answers)
        self.shoot(f"question-{slug}")
        self.submit()

    def fill_contact(self, details: Mapping[str, str]) -> None:
        """Fill in the consultation request form (ids and names as tests/journey.py's CONTACT)."""
        self.expect_path("/request")
        for name, value in details.items():
            if name in {"preferred_contact", "best_time", "preferred_language", "insurance", "voicemail"}:
                self.choose(name, value)
            elif name == "consent_contact":
                self.tick(name, ["y"] if value else [])
            else:
                # The first date box (Month, in a US clinic) carries the field's own id.
                self.type_into("date_of_birth" if name == "date_of_birth-month" else name, value)

    def answer_everything(self, answers: Mapping[str, Any], flow: tuple[str, ...] = FLOW) -> None:
        """From the start page to the check-answers page (English link names), through the pages of ``flow``."""
        self.goto("/")
        self.shoot("start")
        self.follow("Start now")
        for slug in flow:
            self.answer_and_continue(slug, answers)
        self.expect_path("/check-your-answers")

    def send_request(self) -> str:
        """From the result page to the confirmation; return the reference shown."""
        self.follow("Request a consultation")
        self.expect_path("/request")
        self.fill_contact(CONTACT)
        self.shoot("request")
        self.submit("Continue")
        self.expect_path("/request/check")
        self.shoot("request-check")
        self.submit("Send request")
        self.expect_path("/request/sent")
        self.shoot("request-sent")
        return self.page.locator(".reference").inner_text().strip()

    # --- screenshots --------------------------------------------------------------------------------------

    def shoot(self, name: str) -> None:
        """Full-page screenshots at phone (360x740) and desktop (1280x800) size, when this patient takes them."""
        if self.screenshots is None:
            return
        size = self.page.viewport_size
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(viewport)
            path = self.screenshots / f"{name}-{label}.png"
            self.page.screenshot(path=str(path), full_page=True)
            self.shot.append(path)
        if size:
            self.page.set_viewport_size(size)


def screenshots_folder() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
