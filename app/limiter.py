"""The rate limiter: Flask-Limiter, told that a page view (GET, HEAD, OPTIONS) is never counted.

Every limit of this app is on form posts (the patient budget in app/security.py, the staff sign-in in
app/staff/auth_routes.py), so a page view never needs the limiter at all. Flask-Limiter runs its check before
every request; a request filter made it find no limits for a GET, but only after working out the endpoint,
its exemptions and meta limits (about 4% of a question page's GET under load, py-spy). Here the check returns
at once for the safe methods. A limit on a GET would need this changed (tests/test_public_protection.py shows
one ignored).
"""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class FormPostLimiter(Limiter):
    """A ``Limiter`` that leaves page views alone: its limits apply to the other methods only."""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        # The hook Flask-Limiter registers with app.before_request, and what its decorators call.
        if request.method in SAFE_METHODS:
            return
        super()._check_request_limit(callable_name, in_middleware)
