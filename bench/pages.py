"""Page weight of every patient page: HTML plus the CSS it links, scripts, and requests to other hosts.

A simulated patient (``bench/patient_client.py``) walks the whole flow over HTTP and every page it reads
is kept, then the pages no walk with these answers reaches (the emergency page, the "session ended" page),
then every local page those link to. The client runs no script and sends plain form posts, so finishing the
walk shows that no JavaScript is needed; a page's optional scripts (progressive enhancement) are listed
with their size, outside the 30 KB of HTML and CSS.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from bench.patient_client import PatientClient, Response

STYLESHEET = re.compile(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"')
RESOURCE = re.compile(r'<(?:script|img|iframe|link|source|video|audio|embed|object)\b[^>]*?(?:src|href|data)="([^"]+)"')
SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
SCRIPT_SRC = re.compile(r'<script\b[^>]*src="([^"]+)"', re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""")
LIMIT_BYTES = 30_000  # 30 KB of HTML and CSS together (in thousands, the stricter reading)


@dataclass(frozen=True)
class PageWeight:
    """One patient page: bytes of HTML and of the CSS it links, scripts and other hosts' resources."""

    path: str
    html_bytes: int
    css_bytes: int
    scripts: int  # script elements; none is needed: the walk that reached the page ran no script
    script_bytes: int
    third_party: tuple[str, ...]

    @property
    def total(self) -> int:
        """HTML and CSS together."""
        return self.html_bytes + self.css_bytes

    @property
    def holds(self) -> bool:
        """Within the weight limit and nothing from another host (scripts are optional: see ``measure``)."""
        return self.total <= LIMIT_BYTES and not self.third_party


class RecordingClient(PatientClient):
    """A patient that keeps every page it reads (200 answers to a GET), by path without the query."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.pages: dict[str, str] = {}

    def request(self, method: str, path: str, form: Any = None) -> Response:
        """Send the request like any patient; keep the page when it is one."""
        response = super().request(method, path, form)
        if method == "GET" and response.status == 200 and not path.startswith("/static/"):
            self.pages.setdefault(path.split("?")[0], response.body)
        return response


def _other_host(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return bool(parts.netloc) and parts.hostname not in ("127.0.0.1", "localhost")


LINK = re.compile(r'<a\b[^>]*href="(/[^"#]*)"')
NOT_PATIENT_PAGES = ("/staff", "/language/", "/static/", "/fhir/", "/healthz")
MAX_PAGES = 60


def measure(base_url: str) -> list[PageWeight]:
    """Walk the flow, fetch the pages off its path, then every local page they link to; the weight of each."""
    patient = RecordingClient(base_url)
    patient.submit("page-weight", 1)
    for path in ("/get-help-now", "/session-ended"):
        patient.request("GET", path)
    seen = set(patient.pages)
    queue = [link for html in list(patient.pages.values()) for link in LINK.findall(html)]
    while queue and len(seen) < MAX_PAGES:  # pages linked from the flow (guidance, printouts ...), GET only
        path = queue.pop(0).replace("&amp;", "&").split("?")[0]
        if path in seen or path.startswith(NOT_PATIENT_PAGES):
            continue
        seen.add(path)
        page = patient.request("GET", path)
        if page.status == 200:
            queue += LINK.findall(page.body)
    css_cache: dict[str, str] = {}
    weights = []
    for path, html in list(patient.pages.items()):
        sheets = STYLESHEET.findall(html)
        for href in sheets:
            if href not in css_cache:
                css_cache[href] = "" if _other_host(href) else patient.request("GET", href).body
        css = "".join(css_cache[href] for href in sheets)
        resources = RESOURCE.findall(html) + [a or b for a, b in CSS_URL.findall(css)]
        scripts = SCRIPT_SRC.findall(html)
        for src in scripts:
            if src not in css_cache:
                css_cache[src] = "" if _other_host(src) else patient.request("GET", src).body
        weights.append(PageWeight(
            path=path, html_bytes=len(html.encode()), css_bytes=len(css.encode()),
            scripts=len(SCRIPT.findall(html)), script_bytes=sum(len(css_cache[src].encode()) for src in scripts),
            third_party=tuple(url for url in resources if _other_host(url)),
        ))
    return weights
