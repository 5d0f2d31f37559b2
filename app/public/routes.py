"""Patient routes: each parses a form, calls one domain function, commits, and redirects or renders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from app.extensions import db
from app.intake import contact
from app.intake.contact import ContactDetails, InvalidContact, check_contact, format_phone
from app.intake.documents import KINDS as DOCUMENT_KINDS
from app.intake.documents import InvalidDocument, documents_of, kind_label, receive_document
from app.intake.drafts import TYPED, clear_contact, keep_typed
from app.intake.links import request_for_link
from app.intake.workflow import assessment_of, complete_screening, requests_from_phone, submit_request
from app.models import ConsultationRequest, Draft, Screening
from app.public import bp
from app.public.drafts import (
    ANSWERS_ONLY,
    WITH_RESULT,
    DraftExpired,
    current_draft,
    now,
    remember_sent,
    save_page,
    sent_reference,
    start_over,
)
from app.public.forms import ConfirmForm, ContactForm, DocumentForm, SendRequestForm, form_class
from app.public.protection import (
    Verdict,
    accept_contact,
    limit_patient_posts,
    limit_sends,
    looks_automated,
    mark_form_shown,
)
from app.public.question_html import question_html
from app.screening import InvalidAnswers
from app.screening.checklist import visit_checklist
from app.screening.navigation import UnknownPage, blocking_page, first_incomplete, get_page, next_page, previous_page
from app.screening.questions import BY_FIELD, PAGES, STEPS, Page, describe_by_step
from app.screening.rules import emergency_flags
from app.screening.texts import unmet_text
from app.web.booking import booking_settings
from app.web.i18n import SUPPORTED, current_language, patient_date, remember_language, safe_next
from app.web.mailer import deliver_soon, queue_new_request_email
from app.web.messenger import queue_acknowledgement, texting_on

RETURN_TO_CHECK = "check"
RETURN_TO_CONTACT = "contact"  # from the contact form's "change your age" link, back to the form
AGE_PAGE = "age"

# Every patient POST spends from one per-IP budget (RATELIMIT_PUBLIC_POST); GETs are free.
limit_patient_posts(bp)


def see_other(endpoint: str, **values: object) -> BaseResponse:
    """A 303 redirect: after a POST the browser must GET the next page."""
    return redirect(url_for(endpoint, **values), code=303)


@bp.context_processor
def questionnaire() -> dict[str, object]:
    """The question definitions, and the cached rendering of a question, for the templates that show them."""
    return {"questions": BY_FIELD, "question_html": question_html, "unmet_text": unmet_text}


@bp.after_request
def no_store(response: Response) -> Response:
    """Patient pages show health answers: never keep them in a shared or back-forward cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(DraftExpired)
def draft_expired(_: DraftExpired) -> BaseResponse:
    """A draft that timed out sends the patient to a page that says so, with a way to start again."""
    return see_other("public.expired")


@bp.get("/")
def start() -> str:
    """The start page: what this is, how long it takes, what is stored and why."""
    return render_template("public/start.html", first_page=PAGES[0])


@bp.route("/questions/<slug>", methods=["GET", "POST"])
def question_page(slug: str) -> str | BaseResponse:
    """One questionnaire page: pre-filled on GET; on POST, validate, save and go on."""
    try:
        page = get_page(slug)
    except UnknownPage:
        abort(404)
    if sent_reference():
        return _already_sent()
    draft = current_draft(ANSWERS_ONLY)
    answers = draft.answers if draft else {}
    back_to = request.args.get("return")
    if back_to == RETURN_TO_CONTACT and (draft is None or page.slug != AGE_PAGE):
        back_to = None  # only the age can be changed on the way back to the contact form
    returning = back_to == RETURN_TO_CHECK
    if not page.is_shown(answers):  # e.g. scan results after answering "no scan"
        return _after_page(page, answers, returning)
    gap = blocking_page(page, answers)
    if gap is not None:
        return see_other("public.question_page", slug=gap.slug)
    form = form_class(page)(data=answers)
    form.earlier_answers = answers
    switch = _switch_requested()
    if switch:  # keep every answer on the page that is valid, then show the page again in the other language
        form.validate()
        chosen = {name: value for name, value in form.answers().items()
                  if name not in form.errors and value not in (None, [])}
        if chosen:
            save_page(draft, chosen)
        return _switched(switch, "public.question_page", slug=page.slug, **({"return": back_to} if back_to else {}))
    if form.validate_on_submit():
        before = draft.screening.category if draft is not None and draft.screening is not None else None
        draft = save_page(draft, form.answers())
        answers = draft.answers  # read before the commit expires the draft
        if back_to == RETURN_TO_CONTACT and first_incomplete(answers) is None:
            return _back_to_contact(draft, before)
        db.session.commit()
        if page.slug == "safety" and emergency_flags(answers["red_flags"]):
            return see_other("public.urgent")
        return _after_page(page, answers, returning)
    db.session.commit()  # the draft's activity time, when due
    back = (url_for("public.request_details") if back_to == RETURN_TO_CONTACT
            else _back_url(previous_page(page, answers), returning))
    return render_template("public/question.html", page=page, form=form, back_to=back_to, back_url=back,
                           step=STEPS.index(page.step) + 1, steps=len(STEPS))


def _back_to_contact(draft: Draft, before: str | None) -> BaseResponse:
    """After changing the age from the contact form: assess again, then back to the form, details kept.

    If the new age changes the result (``before``: the category it had), the patient sees the new result
    first; its button leads to the form.
    """
    try:
        screening = complete_screening(db.session, draft, now())
    except InvalidAnswers:
        db.session.commit()
        return see_other("public.check_answers")
    db.session.commit()
    return see_other("public.request_details" if screening.category == before else "public.result")


def _after_page(page: Page, answers: dict[str, Any], returning: bool) -> BaseResponse:
    """Where to go after a page: the next page, or back to the check page when changing an answer."""
    gap = first_incomplete(answers)
    if returning:
        if gap is None:
            return see_other("public.check_answers")
        return see_other("public.question_page", slug=gap.slug, **{"return": RETURN_TO_CHECK})
    following = next_page(page, answers)
    if following is None:
        return see_other("public.check_answers") if gap is None else see_other("public.question_page", slug=gap.slug)
    return see_other("public.question_page", slug=following.slug)


def _back_url(back: Page | None, returning: bool) -> str:
    if returning:
        return url_for("public.check_answers")
    if back is None:
        return url_for("public.start")
    return url_for("public.question_page", slug=back.slug)


@bp.get("/get-help-now")
def urgent() -> str:
    """Shown at once when a safety answer needs emergency care."""
    draft = current_draft()
    following = next_page(PAGES[0], draft.answers) if draft else None
    return render_template("public/urgent.html", following=following)


@bp.route("/check-your-answers", methods=["GET", "POST"])
def check_answers() -> str | BaseResponse:
    """Every answer with a Change link; confirming stores the screening and shows the result."""
    if sent_reference():
        return _already_sent()
    draft = current_draft()
    answers = draft.answers if draft else {}
    gap = first_incomplete(answers)
    if draft is None or gap is not None:
        return see_other("public.question_page", slug=(gap or PAGES[0]).slug)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            complete_screening(db.session, draft, now())
        except InvalidAnswers:
            return see_other("public.question_page", slug=PAGES[0].slug)
        db.session.commit()
        return see_other("public.result")
    db.session.commit()
    return render_template("public/check_answers.html", sections=describe_by_step(answers), form=form,
                           return_to=RETURN_TO_CHECK)


def _already_sent() -> str:
    """Answers cannot be changed once the request is sent: say the clinic has it and how to tell them of a change."""
    return render_template("public/already_sent.html", reference=sent_reference(), form=ConfirmForm())


def needs_result(view: Callable[[Draft, Screening], str | BaseResponse]) -> Callable[[], str | BaseResponse]:
    """Run ``view(draft, screening)`` once the patient has a result; otherwise send them to check their answers."""

    @wraps(view)
    def wrapped() -> str | BaseResponse:
        draft = current_draft(WITH_RESULT)
        if draft is None and sent_reference():  # the draft has gone, the request is safe: say so
            return see_other("public.expired")
        if draft is None or draft.screening is None:
            return see_other("public.check_answers")
        return view(draft, draft.screening)

    return wrapped


@bp.get("/result")
@needs_result
def result(draft: Draft, screening: Screening) -> str | BaseResponse:
    """The screening result with its reasons, cautions and next step."""
    assessment = assessment_of(screening)
    page = render_template("public/result.html", screening=screening, assessment=assessment,
                           checklist=visit_checklist(assessment.cautions, screening.answers),
                           done_on=_clinic_day(screening.created_at))
    db.session.commit()  # the draft's activity time; after rendering, so the page reads nothing expired
    return page


@bp.route("/request", methods=["GET", "POST"])
@needs_result
def request_details(draft: Draft, screening: Screening) -> str | BaseResponse:
    """The consultation request's contact details, kept on the server until sent."""
    if screening.request is not None:
        return see_other("public.request_sent")
    saved = dict(draft.contact)
    typed = saved.pop(TYPED, None)
    if not saved.get("preferred_language"):
        saved["preferred_language"] = current_language()  # the language they are reading in
    # Coming back to a form that could not be accepted yet: it is shown exactly as it was typed.
    refill = {"formdata": MultiDict(typed)} if typed and request.method == "GET" else {}
    form = ContactForm(data=saved, **refill, **_contact_context(screening.answers.get("age")))
    switch = _switch_requested()
    if switch:  # the form as typed, shown again in the other language
        keep_typed(draft, form.typed(request.form), now())
        return _switched(switch, "public.request_details")
    check_again = False
    if form.validate_on_submit():
        verdict = accept_contact(form, form.typed(request.form), draft, now())
        db.session.commit()
        if verdict is not Verdict.CHECK_AGAIN:  # a dropped post is answered as if it had been kept
            return see_other("public.request_check")
        check_again = True
    elif form.is_submitted():
        keep_typed(draft, form.typed(request.form), now())  # kept for a detour, e.g. to change the age
    mark_form_shown(draft, now())
    db.session.commit()
    return render_template("public/request.html", form=form, options=contact.ALL_CHOICES, check_again=check_again,
                           change_age=url_for("public.question_page", slug=AGE_PAGE, **{"return": RETURN_TO_CONTACT}))


def _contact_context(stated_age: Any) -> dict[str, object]:
    """What checking the contact details needs besides them: the age the patient gave, today and the region."""
    clinic = current_app.extensions["clinic"]
    return {
        "stated_age": stated_age,
        "today": now().astimezone(clinic.timezone).date(),
        "region": clinic.phone_region,
        "texting": texting_on(),
    }


@bp.route("/request/check", methods=["GET", "POST"])
@limit_sends
@needs_result
def request_check(draft: Draft, screening: Screening) -> str | BaseResponse:
    """The contact details to check; sending stores the request exactly once."""
    if screening.request is not None:
        return see_other("public.request_sent")
    try:
        details = check_contact(draft.contact, **_contact_context(screening.answers.get("age")))
    except InvalidContact:
        return see_other("public.request_details")
    form = SendRequestForm()
    if form.validate_on_submit():
        if _over_phone_limit(details):
            db.session.commit()
            return render_template("public/request_limit.html"), 429
        queued = not looks_automated(form) and _store_request(draft, screening, details)
        db.session.commit()
        if queued:
            deliver_soon()  # after the commit, in the background: email never delays or fails this
        return see_other("public.request_sent")
    db.session.commit()
    region = current_app.extensions["clinic"].phone_region
    return render_template("public/request_check.html", details=details, form=form, label=contact.label,
                           phone=format_phone(details.phone, region), born=patient_date(details.date_of_birth))


def _over_phone_limit(details: ContactDetails) -> bool:
    """Whether this phone number has sent ``REQUESTS_PER_PHONE`` requests in the window already."""
    config = current_app.config
    limit = int(config["REQUESTS_PER_PHONE"])
    since = now() - timedelta(hours=int(config["REQUESTS_PER_PHONE_HOURS"]))
    return limit > 0 and requests_from_phone(db.session, details.phone, since) >= limit


def _store_request(draft: Draft, screening: Screening, details: ContactDetails) -> bool:
    """Add the request (exactly once) and its email notice to the transaction; return whether an email waits.

    A post that looks automated never gets here: it is answered alike, but nothing is stored.
    """
    moment = now()
    consultation, created = submit_request(db.session, screening, details, moment, language=current_language())
    clear_contact(draft, moment)  # the request row holds the details now; no second copy
    remember_sent(consultation.reference)
    if not created:
        return False
    emailed = queue_new_request_email(consultation)  # same transaction as the request
    return queue_acknowledgement(consultation.id) or emailed


@bp.get("/request/sent")
@needs_result
def request_sent(draft: Draft, screening: Screening) -> str | BaseResponse:
    """The confirmation: the reference to quote, what happens next, and the clinic's number."""
    if screening.request is None:
        return see_other("public.request_details")
    checklist = visit_checklist(assessment_of(screening).cautions, screening.answers)
    page = render_template("public/request_sent.html", consultation=screening.request, checklist=checklist,
                           done_on=_clinic_day(screening.request.created_at), book_form=ConfirmForm(),
                           can_book=booking_settings().right_after_request(screening.request.category)
                           and screening.request.active_booking is None)
    db.session.commit()  # the draft's activity time; after rendering, so the page reads nothing expired
    return page


@bp.route("/request/documents", methods=["GET", "POST"])
@needs_result
def request_documents(draft: Draft, screening: Screening) -> tuple[str, int] | BaseResponse:
    """After sending: add a scan report, an insurance card or a referral letter (optional), one file at a time."""
    if screening.request is None:
        return see_other("public.request_details")
    return _documents_page(screening.request, url_for("public.request_sent"))


@bp.route("/documents/<token>", methods=["GET", "POST"])
def document_link(token: str) -> tuple[str, int] | BaseResponse:
    """The same, through a link staff sent by text or email (it names no patient; it expires)."""
    consultation = request_for_link(db.session, token, "documents", now())
    if consultation is None:
        db.session.commit()
        return render_template("public/link_expired.html"), 410
    return _documents_page(consultation, None)


def _documents_page(consultation: ConsultationRequest, back: str | None) -> tuple[str, int] | BaseResponse:
    """Receive one file for ``consultation`` (then show the page again), or show the page with what was sent."""
    form = DocumentForm()
    limit = int(current_app.config["DOCUMENT_MAX_BYTES"])
    if form.validate_on_submit():
        with form.file.data.stream as upload:  # a large upload is spooled to a temporary file: closed here
            data = upload.read(limit + 1)
        try:
            receive_document(db.session, consultation.id, form.kind.data, data, form.file.data.filename,
                             max_bytes=limit, now=now())
        except InvalidDocument as exc:
            db.session.rollback()
            form.file.errors = [gettext(exc.message, **exc.params)]
        else:
            db.session.commit()
            return redirect(request.path, code=303)
    page = render_template("public/documents.html", form=form, consultation=consultation, back=back,
                           documents=documents_of(db.session, consultation.id), kinds=DOCUMENT_KINDS,
                           kind_label=kind_label, max_mb=limit // 2**20)
    db.session.commit()
    return page, 400 if form.errors else 200


def _clinic_day(moment: datetime) -> str:
    """The day of ``moment`` in the clinic's time zone, written for the patient (for the printout)."""
    return patient_date(moment.astimezone(current_app.extensions["clinic"].timezone).date())


def _switch_requested() -> str | None:
    """The language a form post asks to switch to (the header's switch on a page with a form), if any.

    The post has passed the CSRF check (CSRFProtect guards every POST) before the view runs.
    """
    code = request.form.get("switch_language") if request.method == "POST" else None
    return code if code in SUPPORTED else None


def _switched(code: str, endpoint: str, **values: object) -> BaseResponse:
    """Remember ``code`` as the patient's language, commit what the page kept, and show the page again."""
    remember_language(code)
    db.session.commit()
    return see_other(endpoint, **values)


@bp.get("/language/<code>")
def choose_language(code: str) -> BaseResponse:
    """The language switch: remember the choice for this browser session and show the same page again.

    Only the patient session cookie changes; the draft and its answers are neither read nor touched.
    """
    if code not in SUPPORTED:
        abort(404)
    remember_language(code)
    return redirect(safe_next(request.args.get("next")) or url_for("public.start"), code=303)


@bp.get("/session-ended")
def expired() -> str:
    """The patient's answers were deleted after 2 hours without activity; a request already sent is safe."""
    return render_template("public/expired.html", reference=sent_reference(), form=ConfirmForm())


@bp.post("/start-again")
def start_again() -> BaseResponse:
    """A new self-check in this browser (for someone else, say): the last one's draft is forgotten."""
    if ConfirmForm().validate_on_submit():
        start_over()
        db.session.commit()
    return see_other("public.start")
