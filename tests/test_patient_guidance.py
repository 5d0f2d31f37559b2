"""Patient guidance (issue 9): the "Learn about MILD" pages, the "before your visit" checklist, and the printout.

Each caution id has exactly one checklist item (app/screening/checklist.py), shown on the result page, its
printout, the confirmation page and the staff request page. The education pages show the clinic's details
from configuration, in English and Spanish, without a questionnaire being started.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import Draft
from app.platform.clinic_content import ContentError
from app.screening.checklist import CAUTION_ITEMS, EVERYONE_ITEMS, visit_checklist
from app.screening.rules import CAUTION_RULES, assess
from tests.answers import answers_with
from tests.factories import login, make_staff, patient_request
from tests.journey import CONTACT, answer_all, see_result, send_request
from tests.patient_pages import LEARN_PAGES, choose_language, main_text, patient_pages

SITE_CSS = Path(__file__).resolve().parent.parent / "app" / "static" / "site.css"
SPEC_CAUTIONS = {f"K{n}" for n in range(1, 14)} | {"P1", "P2", "P3"}  # spec section 3, "Cautions"

# For each caution: answers that make it, and only it, fire (checked below); K11 always comes with K1.
CAUTION_ANSWERS: dict[str, dict[str, Any]] = {
    "P1": answers_with(red_flags=["cancer_history"]),
    "P2": answers_with(red_flags=["recent_injury"]),
    "P3": answers_with(red_flags=["weight_loss"]),
    "K1": answers_with(blood_thinners=["anticoagulant"], thinner_hold_risk="no"),
    "K2": answers_with(bleeding_disorder="yes"),
    "K3": answers_with(can_lie_prone="no"),
    "K4": answers_with(sedation_problems="yes"),
    "K5": answers_with(vascular_disease="not_sure"),
    "K6": answers_with(prior_back_surgery="yes", prior_surgery_type="decompression"),
    "K7": answers_with(mri_findings=["stenosis", "thick_ligament", "slipped_vertebra"]),
    "K8": answers_with(had_mri="yes_older"),
    "K9": answers_with(pain_when_seated="yes"),
    "K10": answers_with(walking_limit="cannot_walk"),
    "K11": answers_with(blood_thinners=["antiplatelet"], thinner_hold_risk="yes"),
    "K12": answers_with(mri_findings=["stenosis", "bone_spurs"]),
    "K13": answers_with(mri_findings=["thick_ligament", "instability"]),
}
COMPANIONS: dict[str, tuple[str, ...]] = {"K11": ("K1",)}

# A clinic that is not the demo one, to prove the pages take their details from configuration.
RIVERSIDE = {
    "CLINIC_NAME": "Riverside Back Care",
    "CLINIC_PHONE": "+1 206 555 0147",
    "CLINIC_ADDRESS": "12 Alder Way, Tacoma, WA 98402",
    "CLINIC_HOURS": "Tuesday to Saturday, 9am to 4pm",
    "CLINIC_HOURS_ES": "de martes a sábado, de 9:00 a 16:00",
}
NOT_ADVICE = {"en": "This page is for education only. It is not medical advice.",
              "es": "Esta página es solo informativa. No es un consejo médico."}


def text_of(response_html: str) -> str:
    return html.unescape(main_text(response_html))


# --- the checklist, defined once -----------------------------------------------------------------------


def test_every_caution_in_the_spec_has_exactly_one_checklist_item() -> None:
    assert set(CAUTION_RULES) == SPEC_CAUTIONS
    assert set(CAUTION_ITEMS) == SPEC_CAUTIONS
    assert len(set(CAUTION_ITEMS.values())) == len(CAUTION_ITEMS)  # no two cautions share wording


def test_the_checklist_never_tells_a_patient_to_stop_a_medicine() -> None:
    for text in [*CAUTION_ITEMS.values(), *(text for _, text in EVERYONE_ITEMS)]:
        assert not re.search(r"\bstop (taking|your)\b", text, re.IGNORECASE), text
    assert "Do not stop it on your own" in CAUTION_ITEMS["K1"]


def test_no_page_asks_a_patient_with_no_scan_to_bring_one(app: Flask, client: FlaskClient) -> None:
    answers = answers_with(had_mri="no", mri_findings=None)
    result = text_of(see_result(client, answers).text)
    send_request(client)
    sent = text_of(client.get("/request/sent").text)
    reference = patient_request(app, answers)
    staff = app.test_client()
    login(staff, make_staff(app, "clinician"))
    checklist = html.unescape(staff.get(f"/staff/requests/{reference}").text)
    for page in (result, sent):
        assert "Ask the clinic about getting an MRI or CT scan of your lower back." in page
        assert "You have not had an MRI or CT scan, so we cannot tell yet" in page or page is sent
        assert not re.search(r"[Bb]ring (the report of )?your (latest )?(MRI|scan)", page), page
        assert "older scan" not in page
    assert "Ask the clinic about getting an MRI or CT scan" in checklist


def test_the_result_says_each_caution_once(client: FlaskClient) -> None:
    result = text_of(see_result(client, CAUTION_ANSWERS["K1"]).text)
    assert result.count("blood thinner") == 1  # the checklist's line, not also a note above it
    result = text_of(see_result(client, answers_with(red_flags=["cancer_history"])).text)
    assert result.count("cancer") == 2  # "Talk to a doctor soon", and what to tell the doctor


def test_the_checklist_lists_the_cautions_in_order_then_what_everyone_brings() -> None:
    items = visit_checklist(("P2", "K1", "K8"))
    assert [item.id for item in items] == ["P2", "K1", "K8", "medicines", "scan", "treatments"]
    assert [item.from_caution for item in items] == [True] * 3 + [False] * 3


@pytest.mark.parametrize("caution", sorted(CAUTION_ANSWERS), ids=str)
def test_each_caution_puts_its_item_on_the_result_page_and_the_staff_view(
    app: Flask, client: FlaskClient, caution: str
) -> None:
    answers = CAUTION_ANSWERS[caution]
    expected = {caution, *COMPANIONS.get(caution, ())}
    assert set(assess(answers).cautions) == expected
    result = text_of(see_result(client, answers).text)
    assert "Before your visit" in result
    assert CAUTION_ITEMS[caution] in result
    others = [text for other, text in CAUTION_ITEMS.items() if other not in expected]
    assert [text for text in others if text in result] == []
    assert all(text in result for _, text in EVERYONE_ITEMS)

    reference = patient_request(app, answers)
    staff = app.test_client()
    login(staff, make_staff(app, "clinician"))
    page = html.unescape(staff.get(f"/staff/requests/{reference}").text)
    assert f"<strong>{caution}</strong> {CAUTION_ITEMS[caution]}" in page
    assert "Patient's before-the-visit checklist" in page


def test_the_checklist_is_in_spanish_for_the_patient_and_in_english_for_staff(app: Flask, client: FlaskClient) -> None:
    choose_language(client, "es")
    result = text_of(see_result(client, CAUTION_ANSWERS["K1"]).text)
    assert "su medicina para diluir la sangre. No deje de tomarla por su cuenta." in result
    assert CAUTION_ITEMS["K1"] not in result
    send_request(client)
    sent = text_of(client.get("/request/sent").text)
    assert "Traiga el nombre y la dosis de su medicina para diluir la sangre." in sent

    staff = app.test_client()
    login(staff, make_staff(app, "frontdesk"))
    reference = re.search(r'class="reference">([A-Z0-9-]+)<', client.get("/request/sent").text).group(1)
    page = html.unescape(staff.get(f"/staff/requests/{reference}").text)
    assert CAUTION_ITEMS["K1"] in page
    assert html.unescape(staff.get(f"/staff/requests/{reference}/print").text).count(CAUTION_ITEMS["K1"]) == 1


# --- the education pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize(("name", "path"), list(LEARN_PAGES.items()), ids=list(LEARN_PAGES))
def test_learn_pages_render_with_the_configured_clinic(make_app: Any, lang: str, name: str, path: str) -> None:
    app = make_app(**RIVERSIDE)
    client = app.test_client()
    choose_language(client, lang)
    response = client.get(path)
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert f'<html lang="{lang}">' in page
    assert re.search(r"<title>[^<]+ – Riverside Back Care</title>", page)
    assert "Demo" not in page  # nothing of the default clinic
    assert NOT_ADVICE[lang] in page
    assert "(206) 555-0147" in page and 'href="tel:+12065550147"' in page
    for other in LEARN_PAGES.values():  # every page links every other one
        assert f'href="{other}"' in page
    with app.app_context():  # readable without starting the questionnaire: no draft is made
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0


@pytest.mark.parametrize(("lang", "hours", "heading"), [
    ("en", "Open Tuesday to Saturday, 9am to 4pm", "Where is the clinic?"),
    ("es", "Horario: de martes a sábado, de 9:00 a 16:00", "¿Dónde está la clínica?"),
])
def test_the_questions_page_says_where_the_clinic_is(make_app: Any, lang: str, hours: str, heading: str) -> None:
    client = make_app(**RIVERSIDE).test_client()
    choose_language(client, lang)
    text = text_of(client.get("/learn/questions").text)
    where = text[text.index(heading):]
    for detail in ("Riverside Back Care", "12 Alder Way, Tacoma, WA 98402", "(206) 555-0147", hours):
        assert detail in where


def test_what_to_expect_covers_before_during_and_after(client: FlaskClient) -> None:
    text = text_of(client.get("/learn/what-to-expect").text)
    assert text.index("Before the procedure") < text.index("During the procedure") < text.index("After the procedure")
    for fact in ("face down on a padded table", "You go home the same day",
                 # the shipped clinic content: the clinic's own instructions, neutral until it sets them
                 "The clinic will tell you if you need blood tests first",
                 "what time to arrive, what to wear, and if someone must drive you home",
                 "when you can drive, lift things and go back to work", "when your check-up visits are",
                 # rule set 2026.2, spec section 4: the clinic sets fasting; after-procedure warning signs
                 "The clinic will tell you when to stop eating and drinking", "fewer opioid pain medicines",
                 "same day if you get a fever", "red, swollen or starts to leak",
                 "Call 911 now if you suddenly get bad back pain with new numbness or weakness"):
        assert fact in text
    assert "midnight" not in text


def test_research_page_names_its_studies_and_promises_nothing(client: FlaskClient) -> None:
    text = text_of(client.get("/learn/research").text)
    for study in ("MiDAS ENCORE", "Benyamin and Staats, 2016", "Staats and others, 2018", "MOTION",
                  "Deer and others, 2022", "Deer and others, 2024", "Mekhail and others, 2021"):
        assert study in text
    assert "cannot tell you how you will feel" in text
    assert "cannot tell you if your insurance will pay" in text
    assert not re.search(r"\b(guarantee|will cure|will pay)\b", text.replace("insurance will pay", ""), re.I)


@pytest.mark.parametrize("where", ["start", "result", "confirmation"])
def test_start_result_and_confirmation_link_to_the_learn_pages(client: FlaskClient, where: str) -> None:
    if where == "start":
        page = client.get("/").text
    else:
        page = see_result(client, answers_with()).text
        if where == "confirmation":
            send_request(client)
            page = client.get("/request/sent").text
    main = page[page.index("<main"):page.index("</main>")]
    assert 'href="/learn/about-mild"' in main
    footer = page[page.index("<footer"):]
    assert all(f'href="{path}"' in footer for path in LEARN_PAGES.values())


# --- the printout -------------------------------------------------------------------------------------


def _print_rules() -> str:
    css = SITE_CSS.read_text()
    start = css.index("@media print {")
    return css[start:]


def test_the_print_stylesheet_hides_navigation_switch_buttons_and_footer() -> None:
    rules = _print_rules()
    hidden = re.search(r"\n\s*([^{}]+)\{\s*display:\s*none\s*!important;\s*\}", rules)
    assert hidden
    selectors = {s.strip() for s in hidden.group(1).split(",")}
    assert {".header", ".language-select", ".footer", ".button", ".print-actions", ".no-print"} <= selectors
    assert re.search(r"\.print-only\s*\{\s*display:\s*block;", rules)
    assert re.search(r"^\.print-only \{ display: none; \}", SITE_CSS.read_text(), re.MULTILINE)  # screen


@pytest.mark.parametrize("where", ["result", "confirmation"])
def test_result_and_confirmation_offer_print_or_save(client: FlaskClient, where: str) -> None:
    page = see_result(client, CAUTION_ANSWERS["K3"]).text
    if where == "confirmation":
        send_request(client)
        page = client.get("/request/sent").text
    assert '<link rel="stylesheet" href="/static/site.css">' in page
    assert '<script src="/static/print.js" defer></script>' in page
    assert re.search(r'<button type="button" class="button button--secondary" data-print-button hidden>'
                     r"Print or save this page</button>", page)
    assert "open your browser’s menu and choose Print" in html.unescape(page)  # works without JavaScript
    heading = re.search(r'<div class="print-only print-heading">(.*?)</div>', page, re.S)
    assert heading
    today = re.search(r"self-check, (\w+ \d{1,2}, \d{4})", heading.group(1))  # US order: "December 2, 2026"
    assert today and "Demo Spine &amp; Pain Clinic" in heading.group(1) and "(415) 555-0134" in heading.group(1)
    assert CAUTION_ITEMS["K3"] in html.unescape(page)


def test_print_script_is_a_static_file_that_calls_window_print(client: FlaskClient) -> None:
    with client.get("/static/print.js") as response:
        assert response.status_code == 200
        assert "window.print()" in response.text


def test_no_contact_details_on_the_printouts(client: FlaskClient) -> None:
    result = see_result(client, answers_with()).text
    send_request(client, {**CONTACT, "email": "ana.garcia@example.com", "preferred_contact": "email"})
    confirmation = client.get("/request/sent").text
    for page in (result, confirmation):
        plain = html.unescape(page)
        for detail in ("Ana", "García", "555-0199", "5550199", "ana.garcia@example.com", "1954",
                       "Please call after 10"):
            assert detail not in plain, detail
    assert re.search(r'class="reference">[A-Z2-9]{4}-[A-Z2-9]{4}<', confirmation)  # the reference is kept


# --- warning signs (spec section 4) ---------------------------------------------------------------------

WARNING_SIGNS = {
    "en": ("Call 911 now", "cannot control your bladder or bowels",
           "new numbness between your legs or around your bottom", "legs that are getting weaker", "fever or chills"),
    "es": ("Llame ahora mismo al 911", "no puede aguantar la orina o el excremento",
           "siente la piel dormida entre las piernas", "piernas están cada vez más débiles", "fiebre o escalofríos"),
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_warning_sign_list_names_all_four_emergency_signs(app: Flask, client: FlaskClient, lang: str) -> None:
    choose_language(client, lang)
    pages = {"start": client.get("/").text, "what to expect": client.get("/learn/what-to-expect").text}
    see_result(client, answers_with())
    send_request(client)
    pages["confirmation"] = client.get("/request/sent").text
    for name, page in pages.items():
        text = text_of(page)
        missing = [sign for sign in WARNING_SIGNS[lang] if sign not in text]
        assert missing == [], (name, missing)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_emergency_pages_say_now_never_today(client: FlaskClient, lang: str) -> None:
    choose_language(client, lang)
    answer_all(client, {"red_flags": ["saddle_numbness"]})
    urgent = text_of(client.get("/get-help-now").text)
    result = text_of(see_result(client, answers_with(red_flags=["saddle_numbness"])).text)
    now, today = {"en": ("now", "today"), "es": ("ahora", "hoy")}[lang]
    for page in (urgent, result):
        assert now in page
        assert not re.search(rf"\b{today}\b", page, re.IGNORECASE)


def test_every_patient_page_links_the_privacy_page(app: Flask) -> None:
    pages = patient_pages(app, "en")
    for name, page in pages.items():
        if name.startswith("error"):
            continue
        assert re.search(r'<a href="/privacy" class="link-standalone"[^>]*>Privacy: how we use your information</a>',
                         page), name


def test_the_privacy_page_says_who_what_how_long_who_sees_and_how_to_delete(make_app: Any) -> None:
    client = make_app(**RIVERSIDE, SCREENING_RETENTION_DAYS=365, REQUEST_RETENTION_DAYS=2555).test_client()
    text = text_of(client.get("/privacy").text)
    for fact in ("Riverside Back Care runs this self-check", "12 Alder Way, Tacoma, WA 98402", "(206) 555-0147",
                 "deleted after 2 hours", "kept for 365 days", "kept for 2555 days", "Only staff at the clinic",
                 "ask for it to be deleted", "never sell it", "only count how many people saw the emergency page"):
        assert fact in text, fact


def test_a_clinic_can_point_the_privacy_link_at_its_own_notice(make_app: Any) -> None:
    notice = "https://riverside.example/notice-of-privacy-practices"
    client = make_app(CLINIC_PRIVACY_URL=notice).test_client()
    assert f'<a href="{notice}" class="link-standalone">' in client.get("/").text
    assert client.get("/privacy").headers["Location"] == notice


def _content_dir(tmp_path: Path, english: str, spanish: str) -> Path:
    folder = tmp_path / "clinic-content"
    folder.mkdir()
    (folder / "en.toml").write_text(english, encoding="utf-8")
    (folder / "es.toml").write_text(spanish, encoding="utf-8")
    return folder


def test_a_clinic_sets_its_own_procedure_day_instructions_without_code(make_app: Any, tmp_path: Path) -> None:
    folder = _content_dir(
        tmp_path,
        'before = ["Arrive 45 minutes early at the Alder Way entrance."]\nafter = ["No lifting for 10 days."]\n',
        'before = ["Llegue 45 minutos antes a la entrada de Alder Way."]\nafter = ["No levante nada por 10 días."]\n',
    )
    client = make_app(CLINIC_CONTENT_DIR=str(folder)).test_client()
    english = text_of(client.get("/learn/what-to-expect").text)
    assert "Arrive 45 minutes early at the Alder Way entrance." in english and "No lifting for 10 days." in english
    assert "The clinic will tell you if you need blood tests first" not in english  # replaced, not added to
    assert "The clinic will tell you when to stop eating and drinking" in english  # the spec's line stays
    choose_language(client, "es")
    spanish = text_of(client.get("/learn/what-to-expect").text)
    assert "Llegue 45 minutos antes a la entrada de Alder Way." in spanish and "Arrive 45" not in spanish


@pytest.mark.parametrize(("english", "problem"), [
    ("before = [", "cannot be read as TOML"),
    ("before = [1, 2]", "before must be a list of non-empty text lines"),
    ("aftercare = []", "unknown section(s) aftercare"),
])
def test_a_broken_content_file_stops_the_app_saying_what_is_wrong(
    make_app: Any, tmp_path: Path, english: str, problem: str
) -> None:
    folder = _content_dir(tmp_path, english, "before = []")
    with pytest.raises(ContentError, match=re.escape(problem)):
        make_app(CLINIC_CONTENT_DIR=str(folder))


def test_a_missing_language_file_stops_the_app(make_app: Any, tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text("before = []", encoding="utf-8")
    with pytest.raises(ContentError, match=r"missing es\.toml"):
        make_app(CLINIC_CONTENT_DIR=str(tmp_path))
