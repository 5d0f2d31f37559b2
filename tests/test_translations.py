"""Spanish: a complete catalogue, every patient page in Spanish, the language switch, and what staff see.

The catalogue is ``app/translations/es/LC_MESSAGES/messages.po``. Its message ids are the English texts;
the extraction here uses babel.cfg and the same keywords as ``make translations-update``.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import ConsultationRequest, Draft
from app.screening.navigation import get_page
from app.web.i18n import patient_date, safe_next
from tests.answers import BASE_ANSWERS
from tests.catalogues import KEYWORDS, ROOT, TRANSLATIONS
from tests.conftest import Databases
from tests.conftest import _make_app as make_test_app
from tests.factories import login, make_staff
from tests.journey import CONTACT, answer_all, csrf_token, error_messages, form_data, see_result, send_request
from tests.patient_pages import LEARN_PAGES, choose_language, page_texts, patient_pages

PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def msgid_key(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


@pytest.fixture(scope="module")
def spanish() -> Catalog:
    return read_catalog(PO)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """What pybabel extracts from the code now, into a temporary template."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    keywords = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", *keywords,
         "--no-location", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    return read_catalog(pot)


# --- (a) the catalogue ------------------------------------------------------------------------------


def test_every_message_in_the_catalogue_is_translated_and_none_is_fuzzy(spanish: Catalog) -> None:
    untranslated = [m.id for m in spanish if m.id and not (all(m.string) if m.pluralizable else m.string)]
    fuzzy = [m.id for m in spanish if m.id and m.fuzzy]
    assert untranslated == []
    assert fuzzy == []
    assert not spanish.fuzzy  # the header too
    assert len(spanish) > 300


def test_every_message_the_code_uses_is_in_the_catalogue(spanish: Catalog, extracted: Catalog) -> None:
    in_code = {msgid_key(m.id) for m in extracted if m.id}
    in_catalogue = {msgid_key(m.id) for m in spanish if m.id}  # obsolete (#~) entries are not iterated
    assert sorted(in_code - in_catalogue) == [], "run `make translations-update` and translate the new entries"
    assert sorted(in_catalogue - in_code) == [], "the catalogue has entries the code no longer uses"


def test_the_checked_in_template_is_up_to_date(extracted: Catalog) -> None:
    template = read_catalog(TRANSLATIONS / "messages.pot")
    assert {msgid_key(m.id) for m in template if m.id} == {msgid_key(m.id) for m in extracted if m.id}


def test_translations_keep_every_placeholder(spanish: Catalog) -> None:
    for message in spanish:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, message.id
    assert list(spanish.check()) == []  # Babel's own checks (python-format, plural forms)


# --- (b) every patient page in Spanish -------------------------------------------------------------


@pytest.fixture(scope="module")
def english_ids() -> list[str]:
    """English texts a Spanish page must not show: every message id whose Spanish differs from it.

    Ids with placeholders are split at them; only pieces of three words or more are kept for the
    "anywhere on the page" check, so a shared word ("No", "Medicare") is never a false alarm.
    """
    catalog = read_catalog(PO)
    pieces: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        spanish = message.string if isinstance(message.string, tuple) else (message.string,)
        for text, translated in zip(english, spanish, strict=False):
            if text == translated:
                continue
            pieces.extend(piece.strip(" .,:") for piece in PLACEHOLDER.split(text)[::2])
    return sorted({piece for piece in pieces if piece})


@pytest.fixture(scope="module")
def spanish_pages(tmp_path_factory: pytest.TempPathFactory, migrated_template: Path | str) -> dict[str, str]:
    """Every patient page in Spanish, rendered once for the module (on its own database, removed at once)."""
    databases = Databases(tmp_path_factory.mktemp("es-pages"), migrated_template)
    try:
        app = make_test_app(databases.migrated("es_pages"))
        try:
            return patient_pages(app, "es")
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    finally:
        databases.drop_all()


def test_every_patient_page_is_covered(spanish_pages: dict[str, str]) -> None:
    names = set(spanish_pages)
    for expected in ("start", "question safety", "question health (errors)", "check answers", "result likely",
                     "result possible", "result unlikely", "result emergency", "get help now", "contact form",
                     "contact form (errors)", "check details", "confirmation", "expired", "error 404", "error 500",
                     *LEARN_PAGES):
        assert expected in names


@pytest.mark.parametrize("name", [
    "start", "question safety", "question safety (errors)", "question symptoms", "question symptoms (errors)",
    "question treatments", "question treatments (errors)", "question treatment-time",
    "question treatment-time (errors)", "question imaging", "question imaging (errors)", "question scan-results",
    "question scan-results (errors)", "question health", "question health (errors)", "check answers",
    "contact form", "contact form (errors)", "contact form (more errors)", "check details", "confirmation",
    "result likely", "result possible", "result unlikely", "result emergency", "get help now", "expired",
    "error 400", "error 404", "error 405", "error 413", "error 429", "error 500",
    "documents", "documents (errors)", "booking: no times", "booking: day", "booking: day (errors)",
    "booking: time", "booking: time (errors)", "booking: check", "booking: booked", "booking: link used",
    "booking: link expired",
    *LEARN_PAGES,
])
def test_page_is_in_spanish_without_english_text(
    name: str, spanish_pages: dict[str, str], english_ids: list[str]
) -> None:
    html = spanish_pages[name]
    assert re.search(r'<html lang="es">', html)
    texts = page_texts(html).split("\n")
    whole = "\n".join(texts)
    exact = [t for t in texts if t in english_ids]
    anywhere = [e for e in english_ids if len(e.split()) >= 3 and e in whole]
    assert exact == [] and anywhere == [], f"English on the Spanish page {name!r}: {exact + anywhere}"


def test_spanish_pages_keep_the_switch_back_to_english(spanish_pages: dict[str, str]) -> None:
    for name, html in spanish_pages.items():
        link = r'<a href="/language/en\?next=[^"]*"[^>]*hreflang="en" lang="en"[^>]*>English</a>'
        button = (r'<button type="submit" form="page-form" name="switch_language" value="en"[^>]*lang="en">'
                  r"English</button>")
        assert re.search(button if 'id="page-form"' in html else link, html), name
        assert re.search(r'hreflang="es" lang="es" aria-current="true">Español</a>', html), name


def test_validation_messages_are_in_spanish(client) -> None:
    choose_language(client, "es")
    token = csrf_token(client.get("/questions/safety").text)
    errors = error_messages(client.post("/questions/safety", data={"csrf_token": token}).text)
    assert errors == {"red_flags": "Marque los problemas que tiene, o marque ‘Ninguno de estos’"}
    token = csrf_token(client.get("/questions/safety").text)
    response = client.post("/questions/safety", data={"csrf_token": token, "red_flags": ["none", "fever"]})
    assert error_messages(response.text) == {
        "red_flags": "Marque solo ‘Ninguno de estos’, o marque las otras respuestas que correspondan"}
    assert "<title>Error: Señales de alarma" in response.text
    assert "Hay un problema" in response.text


def test_contact_messages_with_numbers_are_in_spanish(client) -> None:
    choose_language(client, "es")
    see_result(client, BASE_ANSWERS)
    token = csrf_token(client.get("/request").text)
    data = {**CONTACT, "date_of_birth-year": "1990", "first_name": "x" * 101, "date_of_birth-day": ""}
    errors = error_messages(client.post("/request", data={"csrf_token": token, **data}).text)
    assert errors["first_name"] == "Su nombre debe tener 100 caracteres o menos"
    assert errors["date_of_birth"] == "Falta el día en la fecha de nacimiento"
    token = csrf_token(client.get("/request").text)
    data = {**CONTACT, "date_of_birth-year": "1990"}
    errors = error_messages(client.post("/request", data={"csrf_token": token, **data}).text)
    assert errors["date_of_birth"].startswith("Con esta fecha de nacimiento usted tendría 36 años, pero nos dijo")


def test_english_stays_the_default(client) -> None:
    html = client.get("/").text
    assert '<html lang="en">' in html
    assert "Check if MILD could help your leg and back pain" in html
    assert 'hreflang="en" lang="en" aria-current="true">English</a>' in html


# --- (c) choosing a language -------------------------------------------------------------------------


def _draft_row(app: Flask) -> tuple[dict, object]:
    with app.app_context():
        draft = db.session.scalars(select(Draft)).one()
        return dict(draft.answers), draft.updated_at


def test_switch_goes_back_to_the_same_page_and_keeps_the_answers(app: Flask, client) -> None:
    answer_all(client, BASE_ANSWERS)
    html = client.get("/check-your-answers").text
    link = re.search(r'<a href="([^"]+)"[^>]*hreflang="es"', html)
    assert link
    before = _draft_row(app)
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/check-your-answers"
    assert _draft_row(app) == before  # the draft is neither read nor touched
    # On a question page the switch sends the page's form and comes back to it, ?return=check kept.
    html = client.get("/questions/treatments?return=check").text
    data = {"csrf_token": csrf_token(html), **form_data(get_page("treatments"), BASE_ANSWERS), "switch_language": "en"}
    response = client.post("/questions/treatments?return=check", data=data)
    assert response.headers["Location"] == "/questions/treatments?return=check"
    choose_language(client, "es")
    spanish = client.get("/questions/symptoms").text
    assert '<html lang="es">' in spanish and "Sus síntomas" in spanish
    assert re.search(r'value="both_sides" checked', spanish)  # the answer is still there
    english = client.get("/language/en?next=/questions/symptoms").headers["Location"]
    assert english == "/questions/symptoms"
    assert "Your symptoms" in client.get(english).text


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "evil", "", "javascript:alert(1)",
    "/ok\r\nSet-Cookie: x=1",
])
def test_switch_only_goes_back_to_this_site(client, target: str) -> None:
    response = client.get("/language/es", query_string={"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_unknown_language_is_not_found(client) -> None:
    assert client.get("/language/fr?next=/").status_code == 404
    assert '<html lang="en">' in client.get("/").text


def test_safe_next() -> None:
    assert safe_next("/result") == "/result"
    assert safe_next("/questions/health?return=check") == "/questions/health?return=check"
    assert safe_next(None) is None
    assert safe_next("///evil.example") is None


@pytest.mark.parametrize(("header", "lang"), [
    ("es-MX,es;q=0.9,en;q=0.5", "es"), ("es", "es"), ("en-US,en;q=0.9,es;q=0.8", "en"), ("fr-FR", "en"), ("", "en"),
])
def test_without_a_choice_the_browser_language_decides(client, header: str, lang: str) -> None:
    html = client.get("/", headers={"Accept-Language": header}).text
    assert f'<html lang="{lang}">' in html


def test_a_choice_beats_the_browser_language(client) -> None:
    choose_language(client, "en")
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "es"}).text


def test_staff_pages_stay_english(client) -> None:
    choose_language(client, "es")
    html = client.get("/staff/login", headers={"Accept-Language": "es"}).text
    assert '<html lang="en">' in html
    assert "/language/" not in html


# --- (d) the request remembers the language ---------------------------------------------------------


def test_preferred_language_is_prefilled_from_the_page_language(client) -> None:
    choose_language(client, "es")
    see_result(client, BASE_ANSWERS)
    html = client.get("/request").text
    assert re.search(r'value="es" checked', html)
    assert not re.search(r'value="en" checked', html)


def test_preferred_language_prefill_in_english(client) -> None:
    see_result(client, BASE_ANSWERS)
    assert re.search(r'value="en" checked', client.get("/request").text)


def test_a_saved_choice_is_not_overwritten(client) -> None:
    choose_language(client, "es")
    see_result(client, BASE_ANSWERS)
    token = csrf_token(client.get("/request").text)
    client.post("/request", data={"csrf_token": token, **CONTACT, "preferred_language": "other"})
    assert re.search(r'value="other" checked', client.get("/request").text)


def _stored(app: Flask) -> ConsultationRequest:
    with app.app_context():
        return db.session.scalars(select(ConsultationRequest)).one()


def test_the_request_records_the_language_and_staff_see_it_in_english(app: Flask, client) -> None:
    choose_language(client, "es")
    see_result(client, BASE_ANSWERS)
    token = csrf_token(client.get("/request").text)
    response = client.post("/request", data={"csrf_token": token, **CONTACT, "preferred_language": "other"})
    assert error_messages(response.text) == {"other_language": "Escriba el idioma en el que quiere hablar"}
    other = {**CONTACT, "preferred_language": "other", "other_language": "Mixteco", "proxy_name": "Rosa Pérez",
             "proxy_relationship": "sobrina", "voicemail": "no"}
    assert send_request(client, other).headers["Location"] == "/request/sent"
    request = _stored(app)
    assert (request.screen_language, request.preferred_language) == ("es", "other")
    assert (request.other_language, request.voicemail) == ("Mixteco", "no")
    assert (request.proxy_name, request.proxy_relationship) == ("Rosa Pérez", "sobrina")

    staff = app.test_client()
    login(staff, make_staff(app, "frontdesk"))
    html = staff.get(f"/staff/requests/{request.reference}", headers={"Accept-Language": "es"}).text
    assert '<html lang="en">' in html
    assert re.search(r"<dt>Self-check in</dt><dd>Spanish \(Español\)</dd>", html)
    assert re.search(r"<dt>Language</dt><dd>Another language: <strong>Mixteco</strong></dd>", html)
    assert re.search(r"<dt>Voicemail</dt><dd><strong>No voicemail</strong></dd>", html)
    assert re.search(r"<dt>May answer for them</dt><dd>Rosa Pérez \(sobrina\)</dd>", html)
    assert "Your leg symptoms come on when you stand or walk" not in html  # staff texts, not patient texts
    assert "Do you have pain, numbness, tingling, weakness or heaviness in your buttocks or legs?" in html
    csv_text = staff.get("/staff/requests.csv").data.decode("utf-8")
    cells = next(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"), newline="")))
    assert (cells["screen_language"], cells["other_language"], cells["voicemail"]) == ("es", "Mixteco", "no")
    assert (cells["proxy_name"], cells["proxy_relationship"]) == ("Rosa Pérez", "sobrina")


def test_an_english_request_records_english(app: Flask, client) -> None:
    see_result(client, BASE_ANSWERS)
    send_request(client)
    assert _stored(app).screen_language == "en"


# --- (e) dates, times and numbers ---------------------------------------------------------------------


def test_dates_are_written_for_the_language(app: Flask) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "es"}):
        assert patient_date(date(2026, 11, 24)) == "24 de noviembre de 2026"
    with app.test_request_context("/"):
        assert patient_date(date(2026, 11, 24)) == "November 24, 2026"  # a US clinic: month first


def test_check_details_shows_the_date_of_birth_in_spanish(client) -> None:
    choose_language(client, "es")
    see_result(client, BASE_ANSWERS)
    token = csrf_token(client.get("/request").text)
    client.post("/request", data={"csrf_token": token, **CONTACT})
    html = client.get("/request/check").text
    assert "3 de abril de 1954" in html
    assert "(415) 555-0199" in html  # a US number is written the US way in either language
    assert "de lunes a viernes, de 8 a. m. a 5 p. m." in html  # the clinic's hours, in Spanish


def test_check_details_shows_the_date_of_birth_in_english(client) -> None:
    see_result(client, BASE_ANSWERS)
    token = csrf_token(client.get("/request").text)
    client.post("/request", data={"csrf_token": token, **CONTACT})
    assert "April 3, 1954" in client.get("/request/check").text


def test_working_days_are_counted_in_spanish(app: Flask, client) -> None:
    choose_language(client, "es")
    see_result(client, BASE_ANSWERS)
    send_request(client)
    assert "en 2 días hábiles, de lunes a viernes, de 8 a. m. a 5 p. m.." in client.get("/request/sent").text


def test_the_switch_link_echoes_no_stray_url_text(client) -> None:
    missing = client.get("/request/K7QM-4HXT?x=1").text
    assert 'href="/language/es?next=/"' in missing  # a URL that is no page: back to the start
    assert "K7QM" not in missing
    html = client.get("/?utm=abc").text
    assert "utm" not in html


def test_spanish_pages_never_show_hours_written_only_in_english(make_app) -> None:
    app = make_app(CLINIC_HOURS="Tuesday to Saturday, 9am to 4pm", CLINIC_HOURS_ES="")
    client = app.test_client()
    choose_language(client, "es")
    see_result(client, BASE_ANSWERS)
    result = client.get("/result").text
    send_request(client)
    pages = [client.get(path).text for path in ("/", "/learn/questions", "/request/sent")] + [result]
    for html in pages:
        assert "Tuesday" not in html and "9am" not in html and "Horario" not in html
    assert "se comunicará con usted en 2 días hábiles." in pages[2]  # the sentence ends without the hours
    english = app.test_client()
    choose_language(english, "en")
    assert "Open Tuesday to Saturday, 9am to 4pm" in english.get("/").text


def _date_boxes(html: str) -> list[tuple[str, str]]:
    """The date-of-birth boxes in page order: (label, input name)."""
    return re.findall(r'<label class="label date-input-label" for="[^"]+">([^<]+)</label>\s*<input[^>]*name="([^"]+)"',
                      html)


@pytest.mark.parametrize(("lang", "labels", "example"), [
    ("en", ["Month", "Day", "Year"], "For example, 3 27 1952"),
    ("es", ["Mes", "Día", "Año"], "Por ejemplo, 3 27 1952"),
])
def test_a_us_clinic_asks_month_day_year(client, lang: str, labels: list[str], example: str) -> None:
    choose_language(client, lang)
    see_result(client, BASE_ANSWERS)
    html = client.get("/request").text
    boxes = _date_boxes(html)
    assert [label for label, _ in boxes] == labels
    assert [name for _, name in boxes] == ["date_of_birth-month", "date_of_birth-day", "date_of_birth-year"]
    # The error summary links to the first box, Month.
    assert re.search(r'id="date_of_birth"\s+name="date_of_birth-month"', html)
    assert example in html


def test_a_clinic_that_writes_day_first_asks_day_month_year(make_app) -> None:
    client = make_app(CLINIC_DATE_ORDER="DMY").test_client()
    see_result(client, BASE_ANSWERS)
    html = client.get("/request").text
    assert [label for label, _ in _date_boxes(html)] == ["Day", "Month", "Year"]
    assert "For example, 27 3 1952" in html
    token = csrf_token(html)
    client.post("/request", data={"csrf_token": token, **CONTACT})
    assert "3 April 1954" in client.get("/request/check").text


def test_an_unknown_date_order_stops_the_app_at_start(make_app) -> None:
    with pytest.raises(ValueError, match="CLINIC_DATE_ORDER"):
        make_app(CLINIC_DATE_ORDER="YDM")


# The language switch on a page with a form sends the form, so nothing chosen is lost


def _switch_buttons(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<button type="submit" form="([^"]+)" name="switch_language" value="(\w+)"', html)


def test_switching_language_mid_page_keeps_the_choices_made(app: Flask, client) -> None:
    answer_all(client, {"red_flags": ["none"]})
    html = client.get("/questions/symptoms").text
    assert _switch_buttons(html) == [("page-form", "es")] and '<form id="page-form"' in html
    token = csrf_token(html)
    response = client.post("/questions/symptoms",  # one of two questions answered, then "Español"
                           data={"csrf_token": token, "leg_symptoms": "both_sides", "switch_language": "es"})
    assert response.headers["Location"] == "/questions/symptoms"
    page = client.get("/questions/symptoms").text
    assert '<html lang="es">' in page
    assert re.search(r'value="both_sides"\s+checked', page)
    assert "error-summary" not in page  # the unanswered question is not an error yet
    with app.app_context():
        assert db.session.scalars(select(Draft)).one().answers["leg_symptoms"] == "both_sides"


def test_a_switch_keeps_valid_answers_and_drops_only_what_is_invalid(app: Flask, client) -> None:
    answer_all(client, {k: v for k, v in BASE_ANSWERS.items() if k not in ("symptom_duration", "pain_score", "age")})
    token = csrf_token(client.get("/questions/pain").text)
    client.post("/questions/pain", data={"csrf_token": token, "symptom_duration": "over_12_months",
                                         "pain_score": "99", "switch_language": "es"})
    with app.app_context():
        answers = db.session.scalars(select(Draft)).one().answers
    assert answers["symptom_duration"] == "over_12_months" and "pain_score" not in answers


def test_switching_language_on_the_contact_form_keeps_what_was_typed(client) -> None:
    see_result(client, BASE_ANSWERS)
    token = csrf_token(client.get("/request").text)
    half = {"first_name": "Ana", "last_name": "García", "phone": "(415) 555-0199", "best_time": "morning"}
    response = client.post("/request", data={"csrf_token": token, **half, "switch_language": "es"})
    assert response.headers["Location"] == "/request"
    page = client.get("/request").text
    assert '<html lang="es">' in page and "error-summary" not in page
    assert 'value="García"' in page and 'value="(415) 555-0199"' in page
    assert re.search(r'value="morning"\s+checked', page)


def test_a_switch_without_a_valid_token_changes_nothing(app: Flask, client) -> None:
    answer_all(client, {"red_flags": ["none"]})
    response = client.post("/questions/symptoms", data={"leg_symptoms": "none", "switch_language": "es"})
    assert response.status_code == 400
    with app.app_context():
        assert "leg_symptoms" not in db.session.scalars(select(Draft)).one().answers
