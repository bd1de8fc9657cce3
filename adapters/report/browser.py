"""Open a report in a real browser: headless Chromium (Debian's ``chromium`` package) renders an
HTML file to a PNG screenshot and dumps the DOM it built, with the console's messages.

Invariant: the browser runs with a profile of its own in a temporary folder (removed after),
so that parallel runs never share state, and within ``BROWSER_SECONDS_MAX``; a console message
(a script error, a request the page's Content-Security-Policy refused) is returned, never
dropped, so that a caller can hold a page to "loaded without errors".
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

import attrs

CHROMIUM_NAMES: Final = ("chromium", "chromium-browser")
BROWSER_SECONDS_MAX: Final = 120
"""A headless Chromium renders a report in a few seconds on a loaded two-core machine; two
minutes means it hangs."""
SCREENSHOT_WIDTH: Final = 1280
SCREENSHOT_HEIGHT: Final = 2400
"""The viewport of ``arledger report --screenshot``: the width of a laptop screen, and the
height of the report's summary, ageing and trend (Chromium captures the viewport only)."""
_CONSOLE_MARK: Final = ":CONSOLE"


class BrowserError(OSError):
    """Chromium is missing, failed or timed out (an OSError: the CLI reports it in one line)."""


@attrs.frozen(kw_only=True)
class BrowserPage:
    """What the browser made of a page."""

    dom: str
    """The DOM after loading, serialised (``--dump-dom``)."""
    console: tuple[str, ...]
    """The console's messages while loading (errors, refused requests), one per line."""
    screenshot: Path


def find_chromium() -> str | None:
    """The path of the Chromium binary on PATH, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def render(
    page: Path,
    screenshot: Path,
    *,
    width: int = SCREENSHOT_WIDTH,
    height: int = SCREENSHOT_HEIGHT,
) -> BrowserPage:
    """Load ``page`` (a local HTML file) in headless Chromium at ``width`` x ``height`` CSS
    pixels, write the screenshot to ``screenshot`` (PNG) and return the DOM and console."""
    chromium = find_chromium()
    if chromium is None:
        raise BrowserError(
            "chromium is not installed (Debian: apt-get install --no-install-recommends "
            "chromium fonts-noto-cjk): the screenshot needs a real browser"
        )
    with tempfile.TemporaryDirectory(prefix="arledger-chromium-") as profile:
        command = [
            chromium,
            "--headless",
            # Chromium's sandbox needs user namespaces, which containers and CI runners
            # running as root do not give; the page is a local file arledger wrote.
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={screenshot.resolve()}",
            "--dump-dom",
            "--enable-logging=stderr",
            "--v=0",
            page.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=BROWSER_SECONDS_MAX, check=False
            )
        except subprocess.TimeoutExpired:
            raise BrowserError(
                f"chromium did not render {page} within {BROWSER_SECONDS_MAX} s"
            ) from None
    if done.returncode != 0 or not screenshot.exists():
        last = done.stderr.strip().splitlines()[-1:] or ["no message"]
        raise BrowserError(f"chromium failed on {page} (exit code {done.returncode}): {last[0]}")
    console = tuple(line for line in done.stderr.splitlines() if _CONSOLE_MARK in line)
    return BrowserPage(dom=done.stdout, console=console, screenshot=screenshot)
