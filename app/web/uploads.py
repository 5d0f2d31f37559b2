"""The one place a request may be bigger than MAX_CONTENT_LENGTH: a patient's document upload."""

from __future__ import annotations

from flask import Flask, current_app, request

UPLOAD_PATHS = frozenset({"/request/documents"})
UPLOAD_PREFIXES = ("/documents/",)  # a documents link: /documents/<token>


def allow_document_uploads(app: Flask) -> None:
    """Raise the body limit for POSTs to the upload page, before anything reads the form.

    Registered ahead of the CSRF check (which reads the form in its own before-request hook): Flask runs
    before-request hooks in the order they were added, and a body read under the small limit would be a 413.
    """

    @app.before_request
    def larger_body_for_uploads() -> None:
        if request.method == "POST" and (request.path in UPLOAD_PATHS or request.path.startswith(UPLOAD_PREFIXES)):
            request.max_content_length = 2 * int(current_app.config["DOCUMENT_MAX_BYTES"]) + 64 * 1024
