"""Helpers of the web UI tests: waiting under the page's strict CSP, dropping files on the page,
screenshots kept as test artifacts, and axe-core's accessibility check."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests"
AXE = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# Screenshots of every screen the tests reach (git-ignored); DUPFINDER_TEST_ARTIFACTS moves them.
ARTIFACTS = Path(os.environ.get("DUPFINDER_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "ui"
IMAGES_LOADED = (
    "[...document.querySelectorAll('#groups img')]"
    ".every(i => i.complete && i.naturalWidth > 0) && !!document.querySelector('#groups img')"
)


def _evaluate(page: Any, expression: str, arg: Any = None) -> Any:
    """page.evaluate, or None while the page is navigating (its old document is gone)."""
    try:
        return page.evaluate(expression, arg)
    except Exception as e:  # playwright's Error; a navigation destroys the context
        if "context was destroyed" in str(e) or "navigat" in str(e):
            return None
        raise


def until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Wait until a JavaScript expression is true. Playwright's wait_for_function polls with
    `new Function`, which the UI's policy (script-src 'self', no 'unsafe-eval') forbids;
    page.evaluate goes through the debugging protocol, which the policy does not govern."""
    deadline = time.monotonic() + timeout
    while True:
        if _evaluate(page, expression):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.1)


def text(page: Any, selector: str) -> str:
    return str(page.text_content(selector) or "")


def wait_text(page: Any, selector: str, pattern: str, timeout: float = 15.0) -> str:
    """Wait until the element's text matches the regular expression; return the text."""
    deadline = time.monotonic() + timeout
    while True:
        found = _evaluate(
            page,
            "s => { const e = document.querySelector(s); return e ? e.textContent : null; }",
            selector,
        )
        if found is not None and re.search(pattern, found):
            return str(found)
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} reads {found!r}, not /{pattern}/, after {timeout} s")
        time.sleep(0.1)


_DROP = """async ([files, target]) => {
  const dt = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], f.name, { type: f.type }));
  }
  const on = document.querySelector(target);
  for (const type of ["dragenter", "dragover", "drop"]) {
    on.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }
}"""


def drop_files(page: Any, files: dict[str, bytes], target: str = "main") -> None:
    """Drag files from the desktop onto the page: the browser's own DragEvent with a
    DataTransfer holding the files, as a drop from a file manager delivers them."""
    payload = [
        {
            "name": name,
            "type": "image/jpeg" if name.endswith(".jpg") else "",
            "data": base64.b64encode(data).decode(),
        }
        for name, data in files.items()
    ]
    page.evaluate(_DROP, [payload, target])


class Shots:
    """Screenshots named in the order they were taken, kept under test-artifacts/ui/."""

    def __init__(self, name: str) -> None:
        self.dir = ARTIFACTS / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, page: Any, what: str, full_page: bool = True) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{what}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


def axe_source() -> str:
    """axe-core from the npm registry, pinned in tests/package-lock.json (scripts/bootstrap.sh
    --dev installs it; installed here when missing)."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:  # a failure, not a skip: skipping would hide the whole UI journey
            pytest.fail("npm is not installed (Debian package `npm`): axe-core cannot be installed")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=NODE_DIR,
            check=True,
            timeout=300,
        )
    return AXE.read_text(encoding="utf-8")


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2 A/AA)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())  # through the debugging protocol: the CSP does not apply
    result = page.evaluate(
        "async () => JSON.stringify(await axe.run(document, {runOnly: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}))"
    )
    found = json.loads(result)["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
