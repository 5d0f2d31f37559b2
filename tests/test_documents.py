"""Documents from patients (issue 25, first part): checked by content, photos re-encoded without metadata,
stored encrypted, opened by staff with an audit row, removed with their request."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from datetime import timedelta

import pillow_heif
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select, text
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.casework.retention import RetentionPolicy, purge
from app.extensions import db
from app.models import AuditEvent, ConsultationRequest, Document, utcnow
from tests.answers import answers_with
from tests.factories import login, make_staff
from tests.journey import csrf_token, error_messages, see_result, send_request

pillow_heif.register_heif_opener()


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def phone_photo(fmt: str = "JPEG") -> bytes:
    """A landscape photo tagged 'rotate 90°' with a GPS position and a camera name, as phones write them."""
    image = Image.new("RGB", (400, 300), (200, 180, 160))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to show
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x8825] = {1: "N", 2: (37.0, 46.0, 30.0), 3: "W", 4: (122.0, 25.0, 10.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif)
    return out.getvalue()


def sent_patient(app: Flask) -> tuple[FlaskClient, str]:
    patient = app.test_client()
    see_result(patient, answers_with())
    send_request(patient)
    with app.app_context():
        reference = db.session.scalars(select(ConsultationRequest.reference)).one()
    return patient, reference


def upload(patient: FlaskClient, kind: str | None, data: bytes | None, name: str = "scan.pdf") -> object:
    page = patient.get("/request/documents").text
    form: dict[str, object] = {"csrf_token": csrf_token(page)}
    if kind:
        form["kind"] = kind
    if data is not None:
        form["file"] = FileStorage(io.BytesIO(data), filename=name)
    # Encoded here, in memory: the test client would spool a large body to a temporary file it never closes.
    boundary, body = encode_multipart(form)
    return patient.post("/request/documents", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def stored(app: Flask) -> list[tuple[str, str, bytes, str]]:
    with app.app_context():
        return [(d.kind, d.content_type, d.data, d.filename)
                for d in db.session.scalars(select(Document).order_by(Document.id))]


def test_a_patient_sends_a_pdf_and_phone_photos_which_lose_their_metadata(app: Flask) -> None:
    patient, _ = sent_patient(app)
    assert "Send your scan report or insurance card" in patient.get("/request/sent").text
    pdf = pdf_bytes()
    assert upload(patient, "imaging_report", pdf, "MRI report 2026.pdf").status_code == 303
    jpeg, heic = phone_photo(), phone_photo("HEIF")
    assert upload(patient, "insurance_front", jpeg, "IMG_0042.JPG").status_code == 303
    assert upload(patient, "insurance_back", heic, "IMG_0043.HEIC").status_code == 303
    page = patient.get("/request/documents").text
    assert "You have sent" in page and "MRI report 2026.pdf" in page and "IMG_0043.jpg" in page
    [report, front, back] = stored(app)
    assert report == ("imaging_report", "application/pdf", pdf, "MRI report 2026.pdf")
    # A JPEG's "rotate 90°" tag is applied (pillow-heif already applies a HEIC's own rotation when it reads it).
    for (_, content_type, data, _), upright in ((front, (300, 400)), (back, (400, 300))):
        assert content_type == "image/jpeg"
        with Image.open(io.BytesIO(data)) as photo:
            assert photo.format == "JPEG" and photo.size == upright
            assert dict(photo.getexif()) == {}  # no position, no camera, no orientation left
    with app.app_context():
        raw = db.session.execute(text("SELECT filename, data FROM document ORDER BY id")).all()
    assert all(name.startswith("v1.") and data.startswith("v1.") for name, data in raw)


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"%PDF-1.7\nthis is not really a PDF at all", "scan.pdf",
     "The selected file says it is a PDF but cannot be opened as one. Send a photo of the pages instead"),
    (b"Dear doctor, please see this patient.", "letter.pdf", "The selected file must be a PDF, JPG, PNG or HEIC"),
    (b"GIF89a" + b"\x00" * 100, "card.jpg", "The selected file must be a PDF, JPG, PNG or HEIC"),
    (b"", "empty.pdf", "The selected file is empty"),
])
def test_a_file_that_is_not_what_it_claims_is_refused_with_a_clear_message(app: Flask, data: bytes, name: str,
                                                                          message: str) -> None:
    patient, _ = sent_patient(app)
    response = upload(patient, "imaging_report", data, name)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert error_messages(response.text)["file"] == message  # type: ignore[attr-defined]
    assert stored(app) == []


def test_the_size_limit_is_said_on_the_page_and_far_bigger_bodies_get_the_413_page(
        make_app: Callable[..., Flask]) -> None:
    app = make_app(DOCUMENT_MAX_BYTES=1024 * 1024)
    patient, _ = sent_patient(app)
    over = upload(patient, "imaging_report", b"%PDF-1.7" + b"0" * (1024 * 1024 + 10))
    assert over.status_code == 400 and "must be smaller than 1 MB" in over.text  # type: ignore[attr-defined]
    assert upload(patient, "imaging_report", b"0" * (3 * 1024 * 1024)).status_code == 413  # type: ignore[attr-defined]
    assert stored(app) == []


def test_nothing_chosen_is_refused_with_each_message(app: Flask) -> None:
    patient, _ = sent_patient(app)
    errors = error_messages(upload(patient, None, None).text)  # type: ignore[attr-defined]
    assert errors == {"kind": "Select what you are sending", "file": "Select a file"}


def test_the_page_needs_a_sent_request(client: FlaskClient) -> None:
    assert client.get("/request/documents").status_code in (302, 303)


def test_staff_open_a_document_uncached_and_the_audit_log_says_who(app: Flask) -> None:
    patient, reference = sent_patient(app)
    pdf = pdf_bytes()
    upload(patient, "imaging_report", pdf, "report.pdf")
    clinician = app.test_client()
    account = make_staff(app, "clinician")
    login(clinician, account)
    page = clinician.get(f"/staff/requests/{reference}").text
    assert "Documents from the patient (1)" in page and "MRI or CT scan report: report.pdf" in page
    with app.app_context():
        document_id = db.session.scalars(select(Document.id)).one()
    shown = clinician.get(f"/staff/requests/{reference}/documents/{document_id}")
    assert shown.status_code == 200 and shown.data == pdf and shown.mimetype == "application/pdf"
    assert shown.headers["Cache-Control"] == "no-store" and shown.headers["Content-Disposition"].startswith("inline")
    with app.app_context():
        views = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view_document")).all()
        assert [(v.staff_id, v.detail["document_id"]) for v in views] == [(account["id"], document_id)]
    assert clinician.get(f"/staff/requests/{reference}/documents/{document_id + 1}").status_code == 404


def test_purge_removes_the_documents_with_their_request(app: Flask) -> None:
    patient, _ = sent_patient(app)
    upload(patient, "referral", pdf_bytes(), "referral.pdf")
    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest)).one()
        request.status, request.is_open = "closed", False
        db.session.commit()
        purge(db.session, utcnow() + timedelta(days=4000), RetentionPolicy.from_days(
            draft_idle=timedelta(days=1), screening_days=1, request_days=1))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_staff_mark_what_the_report_says_beside_what_the_patient_remembered(app: Flask) -> None:
    patient = app.test_client()
    see_result(patient, answers_with(had_mri="yes_last_12_months", mri_findings=["stenosis", "thick_ligament"]))
    send_request(patient)
    upload(patient, "imaging_report", pdf_bytes(), "report.pdf")
    upload(patient, "insurance_front", phone_photo(), "card.jpg")
    with app.app_context():
        reference = db.session.scalars(select(ConsultationRequest.reference)).one()
        report_id, card_id = db.session.scalars(select(Document.id).order_by(Document.id)).all()
    clinician = app.test_client()
    login(clinician, make_staff(app, "clinician", name="Dr Chen"))
    page = clinician.get(f"/staff/requests/{reference}").text
    assert ("The patient said: scan in the last 12 months: <strong>yes</strong>; thick ligament: <strong>yes</strong>"
            in page)
    token = csrf_token(page)
    saved = clinician.post(f"/staff/requests/{reference}/documents/{report_id}/review",
                           data={"csrf_token": token, "mri_recent": "no", "ligament_reported": "yes"})
    assert saved.status_code == 303
    page = clinician.get(f"/staff/requests/{reference}").text
    assert "The report (read by Dr Chen): scan in the last 12 months: <strong>no</strong>" in page
    assert "Differs from the patient&#39;s answers" in page or "Differs from the patient's answers" in page
    with app.app_context():
        report = db.session.get_one(Document, report_id)
        assert (report.mri_recent, report.ligament_reported) == (False, True)
    refused = clinician.post(f"/staff/requests/{reference}/documents/{card_id}/review",
                             data={"csrf_token": token, "mri_recent": "yes", "ligament_reported": "yes"})
    assert refused.status_code == 400 and "Only a scan report can be marked" in refused.text


def test_the_ehr_download_carries_each_document_as_a_document_reference(app: Flask) -> None:
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.documentreference import DocumentReference

    patient, reference = sent_patient(app)
    pdf = pdf_bytes()
    upload(patient, "imaging_report", pdf, "report.pdf")
    desk = app.test_client()
    login(desk, make_staff(app, "frontdesk"))
    downloaded = desk.get(f"/staff/requests/{reference}/fhir.json")
    assert downloaded.status_code == 200
    data = downloaded.get_json()
    Bundle.model_validate(data)
    [entry] = [e for e in data["entry"] if e["resource"]["resourceType"] == "DocumentReference"]
    document = DocumentReference.model_validate(entry["resource"])
    attachment = entry["resource"]["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]) == pdf and attachment["contentType"] == "application/pdf"
    assert attachment["title"] == "report.pdf" and document.type.text == "MRI or CT scan report"
    patient_url = next(e["fullUrl"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")
    assert entry["resource"]["subject"]["reference"] == patient_url


def test_the_queue_download_links_each_document_instead_of_carrying_it(app: Flask) -> None:
    from fhir.resources.R4B.bundle import Bundle

    patient, reference = sent_patient(app)
    upload(patient, "imaging_report", pdf_bytes(), "report.pdf")
    upload(patient, "insurance_back", phone_photo(), "back.jpg")
    desk = app.test_client()
    login(desk, make_staff(app, "frontdesk"))
    downloaded = desk.get("/staff/requests.fhir.json?status=all")
    assert downloaded.status_code == 200
    data = json.loads(downloaded.get_data(as_text=True))
    Bundle.model_validate(data)
    attachments = [e["resource"]["content"][0]["attachment"] for e in data["entry"]
                   if e["resource"]["resourceType"] == "DocumentReference"]
    assert [a["title"] for a in attachments] == ["report.pdf", "back.jpg"]
    assert all("data" not in a for a in attachments)
    for attachment in attachments:
        path = attachment["url"].removeprefix("http://127.0.0.1:5000")
        assert path.startswith(f"/staff/requests/{reference}/documents/")
        opened = desk.get(path)  # the link opens the file, for staff, audited like any view
        assert opened.status_code == 200 and opened.mimetype == attachment["contentType"]


def test_staff_send_a_link_and_the_patient_sends_documents_through_it(make_app: Callable[..., Flask]) -> None:
    from tests.fake_twilio import fake_twilio, texting_config
    from tests.test_texting import PATIENT, deliver_at, frontdesk, texting_patient

    with fake_twilio() as twilio:
        app = make_app(**texting_config(twilio))
        reference = texting_patient(app)
        staff = frontdesk(app)
        page = staff.get(f"/staff/requests/{reference}").text
        assert "Send the patient a link to send documents (text)" in page
        sent = staff.post(f"/staff/requests/{reference}/documents-link",
                          data={"csrf_token": csrf_token(page), "version": page.split('name="version" value="')[1]
                                .split('"')[0]})
        assert sent.status_code == 303
        deliver_at(app, utcnow())
        text_body = twilio.bodies_to(PATIENT)[-1]
    link = next(word for word in text_body.split() if word.startswith("http"))
    assert link.startswith("http://127.0.0.1:5000/documents/") and reference not in link
    assert "The link works for 7 days" in text_body
    path = link.removeprefix("http://127.0.0.1:5000")
    phone = app.test_client()  # the patient's phone: no draft, no session
    assert "Send your scan report or insurance card" in phone.get(path).text
    token = csrf_token(phone.get(path).text)
    boundary, body = encode_multipart({"csrf_token": token, "kind": "insurance_front",
                                       "file": FileStorage(io.BytesIO(phone_photo()), filename="card.jpg")})
    assert phone.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}").status_code == 303
    with app.app_context():
        request_id = db.session.scalar(select(ConsultationRequest.id).where(ConsultationRequest.reference == reference))
        assert db.session.scalars(select(Document.request_id)).all() == [request_id]
        stored_hash = db.session.execute(text("SELECT token_hash FROM patient_link")).scalar()
        assert stored_hash and path.rsplit("/", 1)[1] not in stored_hash  # only a hash of the token is kept
        db.session.execute(text("UPDATE patient_link SET expires_at = :past"), {"past": utcnow() - timedelta(1)})
        db.session.commit()
    expired = phone.get(path)
    assert expired.status_code == 410 and "This link has expired" in expired.text
    assert app.test_client().get("/documents/not-a-real-token").status_code == 410


def test_the_csv_export_says_how_many_documents_each_request_has(app: Flask) -> None:
    from tests.factories import seed_request
    from tests.test_export import download

    patient, with_documents = sent_patient(app)
    upload(patient, "imaging_report", pdf_bytes())
    upload(patient, "insurance_front", phone_photo(), "card.jpg")
    without = seed_request(app, phone="+14155550123")
    staff = app.test_client()
    login(staff, make_staff(app, "frontdesk"))
    header, rows = download(staff, "?status=all")
    assert header[header.index("proxy_relationship") + 1] == "documents"
    assert {row["reference"]: row["documents"] for row in rows} == {with_documents: "2", without: "0"}
