"""``flask worker`` as a real process: it survives SIGKILL mid-batch without sending a text twice, refuses a
second worker on SQLite, and two workers on PostgreSQL send every message exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import OutboxMessage, utcnow
from tests.conftest import database_url, requires_postgres, requires_sqlite
from tests.fake_twilio import FakeTwilio, fake_twilio, texting_config

ROOT = Path(__file__).resolve().parents[1]


def numbers(count: int) -> list[str]:
    return [f"+1415555{1000 + i:04d}" for i in range(count)]


def queue_texts(app: Flask, to: list[str]) -> None:
    """Due texts to each number (as the app queues them: encrypted, no request needed for the test)."""
    now = utcnow()
    with app.app_context():
        db.session.add_all(OutboxMessage(channel="sms", kind="call_us", recipient=number, subject="Text: call_us",
                                         body=f"Demo clinic: please call us ({i})", created_at=now, attempts=0,
                                         next_attempt_at=now) for i, number in enumerate(to))
        db.session.commit()


def sent_count(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.sent_at.is_not(None))) or 0
        db.session.remove()
        return count


def start_worker(app: Flask, twilio: FakeTwilio) -> subprocess.Popen[str]:
    settings = texting_config(twilio, WORKER_POLL_SECONDS="0.1", OUTBOX_LEASE_SECONDS="2")
    env = {**os.environ, "FLASK_APP": "wsgi", "FLASK_CONFIG": "testing", "DATABASE_URL": database_url(app),
           **{key: str(value) for key, value in settings.items()}}
    return subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stop(worker: subprocess.Popen[str]) -> tuple[int, str]:
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    return worker.returncode, out + err


def test_a_worker_killed_mid_batch_leaves_no_text_unsent_and_none_sent_twice(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    to = numbers(20)
    queue_texts(app, to)
    with fake_twilio() as twilio:
        first = start_worker(app, twilio)

        def kill_when_the_eighth_arrives(count: int) -> None:
            # The provider takes the 8th text, but the worker dies before it hears so: the worst moment.
            if count == 7:
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)

        twilio.before_accept = kill_when_the_eighth_arrives
        wait_for(lambda: first.poll() is not None)
        first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        # The kill happens inside the provider's lock, before it records the 8th: taking the lock waits for that
        # record (reading the list at once raced with it: seen once as 7 in a CI run).
        with twilio.lock:
            twilio.before_accept = None
            taken = len(twilio.sent)
        assert sent_count(app) == 7 and taken == 8  # one text in doubt, twelve never tried

        second = start_worker(app, twilio)
        wait_for(lambda: sent_count(app) == 20)
        code, output = stop(second)
    assert code == 0 and "Worker stopped." in output
    assert Counter(message.to for message in twilio.sent) == Counter(to)  # each number exactly once


@requires_sqlite  # one worker per SQLite database; PostgreSQL runs several (the test below)
def test_a_second_worker_on_sqlite_refuses_to_start(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with fake_twilio() as twilio:
        first = start_worker(app, twilio)
        assert first.stdout is not None and "started" in first.stdout.readline()
        second = start_worker(app, twilio)
        _, err = second.communicate(timeout=30)
        assert second.returncode == 1 and "Another worker is running on this SQLite database" in err
        code, _ = stop(first)
    assert code == 0


@requires_postgres  # FOR UPDATE SKIP LOCKED: several workers share the outbox
def test_two_workers_on_postgresql_send_every_message_exactly_once(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    to = numbers(200)
    queue_texts(app, to)
    with fake_twilio() as twilio:
        twilio.answer_delay = 0.005
        workers = [start_worker(app, twilio), start_worker(app, twilio)]
        wait_for(lambda: sent_count(app) == 200, seconds=120)
        results = [stop(worker) for worker in workers]
    assert [code for code, _ in results] == [0, 0]
    assert Counter(message.to for message in twilio.sent) == Counter(to)
