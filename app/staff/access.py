"""Who may do what in the console. Roles are checked on top of the blueprint's deny-by-default."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])

READ_REQUESTS = ("frontdesk", "clinician", "admin")  # see the queue and a request's clinical picture
WORK_REQUESTS = ("frontdesk", "admin")  # assign, log contacts, change status
ADD_NOTES = ("frontdesk", "clinician", "admin")
EXPORT = ("frontdesk", "admin")
ADMINISTER = ("admin",)  # accounts, audit trail, outbox
VIEW_DASHBOARD = ("clinician", "admin")  # clinic-wide numbers, for those who run the service


def roles_required(*roles: str) -> Callable[[F], F]:
    """Refuse (403) a signed-in account whose role is not one of ``roles``."""

    def decorator(view: F) -> F:
        view.allowed_roles = roles  # type: ignore[attr-defined]  # read by the URL-map access test

        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


# What a browser says about where a request came from (Fetch Metadata). A download of patient data is only
# started from the console itself (same-origin) or typed or bookmarked (none): a link or image on another
# site, even a sibling subdomain, cannot make a signed-in browser fetch it and write an audit row in the
# staff member's name. Browsers that send no such header (none in use today) are let through.
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def from_this_site(view: F) -> F:
    """Refuse (403) a request another site started (``Sec-Fetch-Site`` cross-site or same-site)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ALLOWED_FETCH_SITES:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def client_ip() -> str | None:
    """The address the request came from (ProxyFix, when configured, puts the real client here)."""
    return request.remote_addr
