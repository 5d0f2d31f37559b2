"""The permission to text in a real browser, with texting on: unticked, asked for only when texts are chosen,
reachable with the keyboard and working without JavaScript; the acknowledgement text then goes out."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.answers import answers_with
from tests.browser.conftest import PHONE, ROOT, LiveServer, serve
from tests.browser.patient import Patient
from tests.fake_twilio import FakeTwilio, fake_twilio, texting_config
from tests.journey import CONTACT


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as server:
        yield server


@pytest.fixture(scope="module")
def texting_server(tmp_path_factory: pytest.TempPathFactory, migrated_template: Path | str, browser: Browser,
                   twilio: FakeTwilio) -> Iterator[LiveServer]:
    settings = {key: str(value) for key, value in texting_config(twilio).items()}
    yield from serve(tmp_path_factory.mktemp("browser-texting"), migrated_template, **settings)


@pytest.mark.parametrize("mode", ["keyboard", "no-javascript"])
def test_a_patient_allows_texts_and_gets_the_acknowledgement(browser: Browser, texting_server: LiveServer,
                                                             twilio: FakeTwilio, mode: str) -> None:
    context = browser.new_context(viewport=PHONE, base_url=texting_server.url, locale="en-US",
                                  java_script_enabled=mode != "no-javascript")
    try:
        patient = Patient(context.new_page(), mode)
        patient.answer_everything(answers_with())
        patient.submit("See my result")
        patient.follow("Request a consultation")
        box = patient.page.locator("input[type=checkbox][name='consent_text']")
        expect(box).not_to_be_checked()  # unticked until the patient ticks it
        phone = "(415) 555-0161" if mode == "keyboard" else "(415) 555-0162"
        patient.fill_contact({**CONTACT, "phone": phone, "preferred_contact": "text", "preferred_language": "en"})
        patient.submit("Continue")
        patient.expect_path("/request")  # choosing texts needs the permission
        refused = patient.page.locator(".error-message", has_text="Tick the box to let the clinic text you")
        expect(refused).to_be_visible()
        expect(patient.page.locator("#last_name")).to_have_value(CONTACT["last_name"])  # nothing typed was lost
        patient.tick("consent_text", ["y"])
        patient.submit("Continue")
        patient.expect_path("/request/check")
        expect(patient.page.get_by_text("Yes, the clinic may text me")).to_be_visible()
        patient.submit("Send request")
        patient.expect_path("/request/sent")
        reference = patient.page.locator(".reference").inner_text().strip()
    finally:
        context.close()
    env = {**os.environ, "FLASK_CONFIG": "development", "DATABASE_URL": texting_server.database_url,
           **{key: str(value) for key, value in texting_config(twilio).items()}}
    sent = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--once"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert sent.returncode == 0, sent.stderr
    e164 = "+1" + "".join(ch for ch in phone if ch.isdigit())
    [acknowledgement] = twilio.bodies_to(e164)
    assert reference in acknowledgement and CONTACT["last_name"] not in acknowledgement
