"""The start page on a phone (issue 21): the emergency signs, then Start, all on the first screen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import LiveServer, use_language

pytestmark = pytest.mark.browser

SIGNS = {
    "en": ("bladder or bowels", "numbness between your legs or around your bottom", "getting weaker", "fever"),
    "es": ("orina", "entre las piernas", "débiles", "fiebre"),
}
START = {"en": "Start now", "es": "Empezar ahora"}


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_the_emergency_signs_and_start_are_on_the_first_phone_screen(
    new_context: Callable[..., BrowserContext], live_server: LiveServer, language: str, javascript: bool
) -> None:
    page = new_context(java_script_enabled=javascript).new_page()  # 360 x 740
    use_language(page, live_server, language, "/")
    warning = page.locator("main .warning-text")
    for sign in SIGNS[language]:
        expect(warning).to_contain_text(sign)
    start = page.get_by_role("button", name=START[language]).or_(page.get_by_role("link", name=START[language]))
    box, button = warning.bounding_box(), start.first.bounding_box()
    assert box and button
    assert box["y"] + box["height"] <= button["y"]  # the signs come before the button
    assert button["y"] + button["height"] <= 740, button  # no scrolling to find Start
    icon = warning.locator(".warning-icon")
    expect(icon).to_be_visible()
    assert icon.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(11, 12, 12)"  # drawn, not a blank band
