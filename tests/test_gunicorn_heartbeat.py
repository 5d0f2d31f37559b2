"""gunicorn.conf.py's StreamHeartbeat: a streamed body keeps the sync worker's timeout from killing it."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def load_config() -> Any:
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Body:
    """A streamed body that records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from (b"a", b"b", b"c")

    def close(self) -> None:
        self.closed = True


def test_each_chunk_of_a_stream_beats_and_close_reaches_the_body() -> None:
    beats: list[int] = []
    body = Body()
    app = load_config().StreamHeartbeat(lambda environ, start: body, lambda: beats.append(1), every=0)
    response = app({}, None)
    assert b"".join(response) == b"abc"
    assert len(beats) == 3
    response.close()
    assert body.closed


def test_a_list_body_and_a_file_are_passed_through_untouched() -> None:
    class FileWrapper:
        pass

    conf = load_config()
    listed = conf.StreamHeartbeat(lambda environ, start: [b"x"], lambda: None)
    assert listed({}, None) == [b"x"]
    sent = FileWrapper()
    filed = conf.StreamHeartbeat(lambda environ, start: sent, lambda: None)
    assert filed({"wsgi.file_wrapper": FileWrapper}, None) is sent
