"""A session cookie once verified is remembered (``ConsoleSessionInterface``) and still judged as Flask judges it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import Flask
from flask.sessions import SecureCookieSession

from app.staff.sessions import ConsoleSessionInterface


def _cookie(app: Flask, data: dict[str, object], path: str = "/") -> str:
    """A session cookie holding ``data``, signed by the app as a response would be (for ``path``'s audience)."""
    interface = app.session_interface
    with app.test_request_context(path):
        serializer = interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        assert serializer is not None
        return str(serializer.dumps(data))


@contextmanager
def _opened(app: Flask, cookie: str | None, path: str = "/") -> Iterator[SecureCookieSession]:
    name = app.config["STAFF_SESSION_COOKIE_NAME"] if path.startswith("/staff/") else app.config["SESSION_COOKIE_NAME"]
    headers = {"Cookie": f"{name}={cookie}"} if cookie else {}
    with app.test_request_context(path, headers=headers):
        from flask import request

        session = app.session_interface.open_session(app, request)
        assert isinstance(session, SecureCookieSession)
        yield session


def _kept(app: Flask) -> dict[object, object]:
    interface = app.session_interface
    assert isinstance(interface, ConsoleSessionInterface)
    return interface._verified


def test_a_verified_cookie_is_kept_and_reads_the_same(app: Flask) -> None:
    cookie = _cookie(app, {"draft": "abc", "lang": "es", "csrf_token": "t"})
    with _opened(app, cookie) as first:
        assert dict(first) == {"draft": "abc", "lang": "es", "csrf_token": "t"}
    assert len(_kept(app)) == 1
    with _opened(app, cookie) as second:
        assert dict(second) == dict(first) and not second.modified


def test_changing_a_session_does_not_change_what_was_kept(app: Flask) -> None:
    cookie = _cookie(app, {"draft": "abc", "lang": "es"})
    with _opened(app, cookie) as session:
        session["lang"] = "en"
        session.pop("draft")
    with _opened(app, cookie) as again:
        assert dict(again) == {"draft": "abc", "lang": "es"}


def test_a_kept_cookie_still_lapses(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    app.permanent_session_lifetime = timedelta(hours=1)
    cookie = _cookie(app, {"draft": "abc"})
    with _opened(app, cookie) as session:
        assert dict(session) == {"draft": "abc"}
    later = time.time() + 3600 + 5
    monkeypatch.setattr(time, "time", lambda: later)
    with _opened(app, cookie) as session:
        assert dict(session) == {}


def test_a_tampered_cookie_or_another_key_reads_as_empty(app: Flask) -> None:
    cookie = _cookie(app, {"draft": "abc"})
    with _opened(app, cookie) as session:
        assert dict(session) == {"draft": "abc"}
    tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    with _opened(app, tampered) as session:
        assert dict(session) == {}
    app.secret_key = "another key entirely, 32 characters or more"
    with _opened(app, cookie) as session:
        assert dict(session) == {}


def test_the_staff_salt_is_its_own(app: Flask) -> None:
    """A patient cookie copied under the staff cookie's name does not verify there, kept or not."""
    cookie = _cookie(app, {"_user_id": "1"})
    with _opened(app, cookie) as session:
        assert dict(session) == {"_user_id": "1"}
    with _opened(app, cookie, "/staff/requests") as staff:
        assert dict(staff) == {}
    staff_cookie = _cookie(app, {"_user_id": "1"}, "/staff/requests")
    with _opened(app, staff_cookie, "/staff/requests") as staff:
        assert dict(staff) == {"_user_id": "1"}


def test_a_cookie_holding_a_list_is_read_every_time_not_kept(app: Flask) -> None:
    cookie = _cookie(app, {"_flashes": [["message", "Saved."]]})
    with _opened(app, cookie) as session:
        session["_flashes"].append(["message", "Again."])  # as flash() does, in place
    with _opened(app, cookie) as session:
        assert session["_flashes"] == [["message", "Saved."]]
    assert _kept(app) == {}


def test_no_cookie_is_an_empty_session(app: Flask) -> None:
    with _opened(app, None) as session:
        assert dict(session) == {}
    assert _kept(app) == {}
