"""The HTML report in a real headless Chromium at 1280 px: no sideways scroll, the FAIL row shows
its measured value, and it renders to a screenshot and to print (PDF).

The page under test is the report of a full run against the wide-window fault, with a small
script added to a copy of it that measures the layout once the page has loaded and writes the
figures into the DOM, which ``--dump-dom`` then returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import chromium, needs_chromium

WIDTH = 1280
pytestmark = [pytest.mark.slow, needs_chromium]
MEASURE = """<script>window.addEventListener('load', () => {
  const page = document.documentElement, fail = document.querySelector('#r-TOTP_WINDOW');
  const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > page.clientWidth + 1);
  const out = document.createElement('pre'); out.id = 'ninsho-measure';
  out.textContent = JSON.stringify({
    scrollWidth: page.scrollWidth, clientWidth: page.clientWidth, height: page.scrollHeight,
    tooWide: wide.slice(0, 5).map(e => e.tagName + '.' + e.className),
    firstRow: document.querySelector('tbody tr').id,
    failMeasured: fail ? fail.querySelector('.measured').textContent : null,
    failVerdict: fail ? fail.querySelector('.verdict').textContent : null,
  });
  document.body.appendChild(out);
});</script>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("browser-report")
    with pytest.MonkeyPatch.context() as patch:  # away from this repository's pytest config, as pytester
        patch.chdir(folder)
        status = run_once(folder)
    assert status == 1, "the wide-window fault must FAIL"
    yield folder / "ninsho.html"


def run_once(folder: Path) -> int | pytest.ExitCode:
    return pytest.main(
        [
            "--pyargs",
            "ninsho.conformance.checks",
            "-p",
            "no:cacheprovider",
            "-q",
            "--noconftest",
            "--disable-plugin-autoload",
            "-p",
            "ninsho-harness",
            "-p",
            "pytest-bdd",
            f"--rootdir={folder}",
            "--ninsho-fault=wide-window",
            f"--ninsho-html={folder / 'ninsho.html'}",
        ]
    )


def measure(report: Path, tmp_path: Path) -> dict[str, Any]:
    page = tmp_path / "measured.html"
    page.write_text(report.read_text("utf-8").replace("</body>", MEASURE + "</body>"), "utf-8")
    done = chromium(tmp_path / "profile-dom", "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="ninsho-measure">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, done.stdout[-2000:]
    figures: dict[str, Any] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return figures


def test_the_report_fits_1280_px_and_its_fail_row_shows_the_measured_window(
    report: Path, tmp_path: Path
) -> None:
    figures = measure(report, tmp_path)
    assert figures["scrollWidth"] <= figures["clientWidth"], f"sideways scroll at {WIDTH} px: {figures}"
    assert not figures["tooWide"], figures
    assert figures["firstRow"] == "r-TOTP_WINDOW", "the FAIL comes first"
    assert figures["failVerdict"] == "FAIL"
    assert "accepted -3…+3" in figures["failMeasured"], figures


def test_the_report_renders_to_a_screenshot_and_to_print(report: Path, tmp_path: Path) -> None:
    png, pdf = tmp_path / "report.png", tmp_path / "report.pdf"
    shot = chromium(tmp_path / "profile-shot", f"--screenshot={png}", report.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    printed = chromium(
        tmp_path / "profile-pdf", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", report.as_uri()
    )
    assert printed.returncode == 0, printed.stderr[-2000:]
    data = pdf.read_bytes()
    pages = max((int(n) for n in re.findall(rb"/Count (\d+)", data)), default=0)
    assert data[:5] == b"%PDF-" and pages >= 2, f"{pages} pages"
