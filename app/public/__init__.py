"""The patient-facing self-screen: start page, questionnaire, result and consultation request."""

from flask import Blueprint

bp = Blueprint("public", __name__, template_folder=None)

from app.public import booking_routes, content_routes, routes  # noqa: E402,F401  (routes register themselves on bp)
