"""Documents a patient sends with a request: what each file really is, decided by its content. No Flask.

A PDF must open as one (pypdf reads its pages); a photo must open as a JPEG, PNG or HEIC image (Pillow, with
pillow-heif for iPhone photos) and is re-encoded as a JPEG, turned upright, without its metadata (location,
camera, time). Anything else, a file that claims to be one of these but is not, an empty file or one over the
size limit is refused with a sentence saying what to do. The file's name is kept for staff, never trusted.
"""

from __future__ import annotations

import io
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, undefer

from app.models import ConsultationRequest, Document
from app.platform.i18n_marker import N_, PatientMessageError
from app.screening.questions import Option

pillow_heif.register_heif_opener()

KINDS = (
    Option("imaging_report", N_("MRI or CT scan report")),
    Option("insurance_front", N_("Insurance card, front")),
    Option("insurance_back", N_("Insurance card, back")),
    Option("referral", N_("Referral letter from a doctor")),
)
IMAGE_FORMATS = frozenset({"JPEG", "PNG", "HEIF", "MPO"})  # MPO: some phones' JPEGs
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; more is a decompression bomb, not a phone picture
MAX_FILES = 20  # per request
NAME_MAX = 120
JPEG_QUALITY = 85

# Messages in the GOV.UK file-upload pattern's words.
CHOOSE_KIND = N_("Select what you are sending")
CHOOSE_FILE = N_("Select a file")
EMPTY_FILE = N_("The selected file is empty")
TOO_BIG = N_("The selected file must be smaller than %(size)s MB")
WRONG_TYPE = N_("The selected file must be a PDF, JPG, PNG or HEIC")
NOT_A_PDF = N_("The selected file says it is a PDF but cannot be opened as one. Send a photo of the pages instead")
LOCKED_PDF = N_("The selected PDF has a password. Send it without the password, or a photo of the pages")
TOO_MANY = N_("You have sent %(max)s files already. Call the clinic if you need to send more")


class InvalidDocument(PatientMessageError):
    """A file that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class CheckedFile:
    """A file as it will be stored: its real type and its (re-encoded) bytes."""

    content_type: str
    data: bytes


def check_file(data: bytes, max_bytes: int) -> CheckedFile:
    """Decide what ``data`` is from its content; a photo comes back re-encoded. Raises ``InvalidDocument``."""
    if not data:
        raise InvalidDocument(EMPTY_FILE)
    if len(data) > max_bytes:
        raise InvalidDocument(TOO_BIG, size=max_bytes // (1024 * 1024))
    if data.lstrip()[:5] == b"%PDF-":
        return CheckedFile("application/pdf", _checked_pdf(data))
    return CheckedFile("image/jpeg", _reencoded_image(data))


def _checked_pdf(data: bytes) -> bytes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pypdf warns about small faults it repairs; they are not ours to log
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise InvalidDocument(LOCKED_PDF)
            if len(reader.pages) < 1:
                raise InvalidDocument(NOT_A_PDF)
    except InvalidDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError):
        raise InvalidDocument(NOT_A_PDF) from None
    return data  # stored as sent: a PDF's text is what the doctor reads


def _reencoded_image(data: bytes) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in IMAGE_FORMATS:
                raise InvalidDocument(WRONG_TYPE)
            if image.width * image.height > MAX_PIXELS:
                raise InvalidDocument(WRONG_TYPE)
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except InvalidDocument:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        raise InvalidDocument(WRONG_TYPE) from None
    out = io.BytesIO()
    upright.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)  # no exif=: no metadata is written
    return out.getvalue()


def clean_filename(raw: str | None, content_type: str) -> str:
    """The name to show staff: the last part of what the device sent, printable, with the stored type's ending."""
    name = unicodedata.normalize("NFC", (raw or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")[:NAME_MAX] or "file"
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem}.{'pdf' if content_type == 'application/pdf' else 'jpg'}"


def add_document(session: Session, request_id: int, kind: str, checked: CheckedFile, filename: str | None,
                 now: datetime) -> Document:
    """Store a checked file for the request (no commit); refused past ``MAX_FILES`` or for an unknown kind."""
    if kind not in {option.code for option in KINDS}:
        raise InvalidDocument(CHOOSE_KIND)
    count = session.scalar(select(func.count()).select_from(Document).where(Document.request_id == request_id))
    if (count or 0) >= MAX_FILES:
        raise InvalidDocument(TOO_MANY, max=MAX_FILES)
    document = Document(request_id=request_id, kind=kind, content_type=checked.content_type,
                        filename=clean_filename(filename, checked.content_type), size=len(checked.data),
                        data=checked.data, created_at=now)
    session.add(document)
    # In SQL, so two uploads at once both count; not through the ORM, which would bump the request's version
    # and refuse a colleague's save made meanwhile.
    session.execute(update(ConsultationRequest).where(ConsultationRequest.id == request_id)
                    .values(document_count=ConsultationRequest.document_count + 1)
                    .execution_options(synchronize_session=False))
    return document


def receive_document(session: Session, request_id: int, kind: str | None, data: bytes | None,
                     filename: str | None, *, max_bytes: int, now: datetime) -> Document:
    """Check and store one file a patient sent (no commit). Raises ``InvalidDocument`` with the reason."""
    if kind not in {option.code for option in KINDS}:
        raise InvalidDocument(CHOOSE_KIND)
    if data is None:
        raise InvalidDocument(CHOOSE_FILE)
    return add_document(session, request_id, kind, check_file(data, max_bytes), filename, now)


def documents_of(session: Session, request_id: int, *, with_data: bool = False) -> list[Document]:
    """The request's documents, oldest first (their bytes only ``with_data``: a list page does not need them)."""
    query = select(Document).where(Document.request_id == request_id).order_by(Document.id)
    return list(session.scalars(query.options(undefer(Document.data)) if with_data else query))


def kind_label(code: str) -> str:
    """The words for a document kind."""
    return next((option.label for option in KINDS if option.code == code), code)


def review_report(document: Document, *, mri_recent: bool | None, ligament_reported: bool | None,
                  reviewer_id: int, now: datetime) -> None:
    """Record what a scan report says; only a scan report can be reviewed."""
    if document.kind != "imaging_report":
        raise InvalidDocument("Only a scan report can be marked")
    document.mri_recent, document.ligament_reported = mri_recent, ligament_reported
    document.reviewed_by_id, document.reviewed_at = reviewer_id, now


def patient_said(answers: dict[str, object]) -> tuple[bool | None, bool | None]:
    """What the patient's answers say about the same two things: a scan in the last 12 months, a thick ligament.

    None where the answers do not say (no scan, "not sure", or the question was not asked).
    """
    had = answers.get("had_mri")
    recent = {"yes_last_12_months": True, "yes_older": False}.get(str(had))
    findings = answers.get("mri_findings") or []
    ligament = None if not findings or "not_sure" in findings else "thick_ligament" in findings  # type: ignore[operator]
    return recent, ligament
