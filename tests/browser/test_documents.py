"""A patient sends documents in a real browser, without JavaScript, at phone width: a PDF and a phone photo;
a file that claims to be a PDF but is not is refused with a clear message; staff open what was sent."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, expect

from tests.answers import answers_with
from tests.browser.conftest import LiveServer
from tests.browser.patient import Patient
from tests.browser.test_accessibility import sign_in
from tests.test_documents import pdf_bytes, phone_photo


def test_a_patient_sends_a_pdf_and_a_photo_without_javascript(new_context: Callable[..., BrowserContext],
                                                              live_server: LiveServer) -> None:
    patient = Patient(new_context(java_script_enabled=False).new_page(), "no-javascript")
    patient.answer_everything(answers_with())
    patient.submit("See my result")
    reference = patient.send_request()
    patient.follow("Send your scan report or insurance card (optional)")
    patient.expect_path("/request/documents")

    patient.choose("kind", "imaging_report")
    patient.page.set_input_files("#file", files=[{"name": "report.pdf", "mimeType": "application/pdf",
                                                  "buffer": b"%PDF-1.7 not really"}])
    patient.submit("Send file")
    expect(patient.page.locator(".error-summary")).to_contain_text("cannot be opened as one")
    expect(patient.page.locator("#file-error")).to_be_visible()

    patient.choose("kind", "imaging_report")
    patient.page.set_input_files("#file", files=[{"name": "MRI report.pdf", "mimeType": "application/pdf",
                                                  "buffer": pdf_bytes()}])
    patient.submit("Send file")
    patient.choose("kind", "insurance_front")
    patient.page.set_input_files("#file", files=[{"name": "IMG_0042.JPG", "mimeType": "image/jpeg",
                                                  "buffer": phone_photo()}])
    patient.submit("Send file")
    expect(patient.page.get_by_text("MRI report.pdf")).to_be_visible()
    expect(patient.page.get_by_text("IMG_0042.jpg")).to_be_visible()
    assert patient.page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing wider than the phone

    staff = new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(staff, live_server.staff)
    staff.goto(f"/staff/requests/{reference}")
    expect(staff.get_by_role("heading", name="Documents from the patient (2)")).to_be_visible()
    link = staff.get_by_role("link", name="Insurance card, front: IMG_0042.jpg")
    shown = staff.request.get(link.get_attribute("href") or "")
    assert shown.status == 200 and shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["cache-control"] == "no-store"
