"""The codebook: rows match the generated patient forms and the question definitions; page, CSV and access."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from wtforms import RadioField, SelectMultipleField, StringField

from app.exports.codebook import ALWAYS, COLUMNS, codebook_rows
from app.public.forms import form_class
from app.screening.questions import BY_FIELD, PAGES, STEP_TITLES, Kind
from tests.factories import login, make_staff


def form_fields(app: Flask) -> list[tuple[str, str, object]]:
    """(page slug, field name, bound WTForms field) of every generated questionnaire form, in page order."""
    with app.test_request_context():
        return [(page.slug, name, form[name]) for page in PAGES
                for form in [form_class(page)(meta={"csrf": False})] for name in page.fields]


def download(client: FlaskClient) -> list[dict[str, str]]:
    response = client.get("/staff/codebook.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="mild-codebook-')
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text[1:], newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def expected_rows(app: Flask) -> list[dict[str, str]]:
    """What the codebook must say, read from the generated forms (codes, labels, question text, order)."""
    rows = []
    for slug, name, field in form_fields(app):
        question = BY_FIELD[name]
        common = {"step": question.step, "step_title": STEP_TITLES[question.step], "page": slug, "field": name,
                  "question": str(field.label.text),
                  "question_back_only": question.back_only_text or "", "hint": question.hint or "",
                  "type": question.kind.value,
                  "applies_when": question.applies_when or ALWAYS}
        if isinstance(field, StringField):  # integers are text boxes checked against the range
            assert question.kind is Kind.INTEGER
            rows.append({**common, "minimum": str(question.minimum), "maximum": str(question.maximum),
                         "code": "", "label": "", "exclusive": "no"})
            continue
        assert isinstance(field, SelectMultipleField if question.kind is Kind.MULTI else RadioField)
        for choice in field.choices:
            rows.append({**common, "minimum": "", "maximum": "", "code": choice.value, "label": str(choice.label),
                         "exclusive": "yes" if choice.value in question.exclusive else "no"})
    return rows


def signed_in(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    login(client, make_staff(app, role))
    return client


def test_codebook_rows_match_the_generated_forms(app: Flask) -> None:
    assert [{k: "" if v is None else v for k, v in vars(row).items()} | {
        "minimum": "" if row.minimum is None else str(row.minimum),
        "maximum": "" if row.maximum is None else str(row.maximum),
        "exclusive": "yes" if row.exclusive else "no"} for row in codebook_rows()] == expected_rows(app)


def test_every_field_and_code_is_in_the_codebook_once() -> None:
    rows = codebook_rows()
    assert list(dict.fromkeys(row.field for row in rows)) == [name for page in PAGES for name in page.fields]
    for name, question in BY_FIELD.items():
        codes = [row.code for row in rows if row.field == name]
        assert codes == (list(question.codes) if question.kind is not Kind.INTEGER else [""])
    conditional = {row.field: row.applies_when for row in rows if row.applies_when != ALWAYS}
    assert conditional == {q.field: q.applies_when for q in BY_FIELD.values() if q.applies is not None}


def test_the_csv_download_is_the_codebook(app: Flask) -> None:
    assert download(signed_in(app, "clinician")) == expected_rows(app)


def test_the_page_shows_every_field_code_and_condition(app: Flask) -> None:
    page = signed_in(app, "frontdesk").get("/staff/codebook")
    assert page.status_code == 200
    text = page.text
    for row in codebook_rows():
        assert f'id="field-{row.field}"' in text
        assert f"<code>{row.code}</code>" in text if row.code else True
    assert "Only when had_mri starts with &#39;yes&#39;" in text
    assert 'href="/staff/codebook.csv"' in text


@pytest.mark.parametrize("role", ["frontdesk", "clinician", "admin"])
def test_every_staff_role_reads_the_codebook_and_finds_it_in_the_navigation(app: Flask, role: str) -> None:
    client = signed_in(app, role)
    assert client.get("/staff/codebook.csv").status_code == 200
    assert 'href="/staff/codebook"' in client.get("/staff/requests").text


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    for url in ("/staff/codebook", "/staff/codebook.csv"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/staff/login?next=")
