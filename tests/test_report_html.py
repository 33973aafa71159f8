"""The self-contained HTML report (pipeline.report.html), statically and in Chromium.

The browser tests drive Debian's headless Chromium over the DevTools protocol on a
pipe (``--remote-debugging-pipe``: no port, no websocket library) and record every
request the *page* makes (Network.requestWillBeSent) and every console/CSP message
(Log.entryAdded). Chromium's own background requests are not page requests, and
``--host-resolver-rules="MAP * ~NOTFOUND"`` keeps even those on the machine. A
negative control shows that an external <img> is caught.
"""

from __future__ import annotations

import base64
import html as htmllib
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputDataError
from pipeline.report import charts, maps
from pipeline.report.html import CSP, build_html_report, render_html_report
from tests.test_report_figures import (
    change_matrix,
    change_summary,
    colour_mask,
    district_table,
    synthetic_intensity,
    zone_table,
)

CHROMIUM = Path("/usr/bin/chromium")
MALICIOUS = "<script>alert(1)</script>"
BULLETIN = (
    "2024年，示例区水土流失面积7,475.11公顷，占土地面积的19.31%，属于轻度流失区。\n"
    "与2023年相比，水土流失面积减少210.00公顷。"
)


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("figures")
    return {
        "intensity_map": maps.plot_intensity_map(
            synthetic_intensity(), folder / "intensity.png", title="土壤侵蚀强度"
        ),
        "class_shares": charts.plot_class_shares(district_table(), folder / "shares.png"),
        "zones_township": charts.plot_zone_stacked_bars(
            zone_table(names=("城关镇", MALICIOUS, "龙潭镇")), folder / "zones.png"
        ),
        "change": charts.plot_change(
            change_summary(), folder / "change.png", year0=2023, year1=2024, matrix=change_matrix()
        ),
    }


def report_kwargs(figure_paths, /, **overrides) -> dict:
    zones = zone_table(names=("城关镇", MALICIOUS, "龙潭镇"))
    kwargs = dict(
        title="2024年示例区水土流失动态监测公报",
        district_name="示例区",
        year=2024,
        bulletin_paragraph=BULLETIN,
        district_table=district_table(),
        summary={
            "land_area_ha": 38709.67,
            "erosion_area_ha": 7475.11,
            "erosion_share_pct": 19.31,
            "soil_conservation_rate_pct": 80.69,
            "dominant_class_zh": "轻度",
            "mean_soil_loss_t_ha_yr": 12.345,
            "custom_count": 7,
            "per_class": [1, 2, 3],  # nested: not a key figure
        },
        zone_tables={
            "township": zones[zones["zone_layer"] == "township"],
            "watershed": zones[zones["zone_layer"] == "watershed"],
        },
        change={
            "summary": change_summary(),
            "matrix": change_matrix(),
            "year0": 2023,
            "year1": 2024,
        },
        figures=dict(figure_paths),
    )
    kwargs.update(overrides)
    return kwargs


# ------------------------------------------------------------------------ static checks
def test_report_has_the_table_values_with_units(tmp_path, figures):
    out = build_html_report(tmp_path / "report.html", **report_kwargs(figures))
    html = out.read_text(encoding="utf-8")
    for value in ("31,234.56", "5,432.10", "54.32", "80.69", "72.67", "0.73"):
        assert value in html
    for header in ("面积 Area (ha)", "Share of land area (%)", "Share of erosion area (%)"):
        assert header in html
    assert "轻度 Light" in html and "剧烈 Severe" in html
    # key figures with labels and units, unknown scalar keys kept, nested ones skipped
    assert "水保持率" in html or "水土保持率" in html
    assert "12.35" in html and "t·ha⁻¹·a⁻¹" in html and "custom_count" in html
    assert "[1, 2, 3]" not in html
    # zone tables: wide, one row per zone; T02 (2 × areas) has erosion area 1,540.00 ha
    assert "城关镇" in html and "清水河小流域" in html and "1,540.00" in html
    # change: signed net change, the transition matrix, years in the headers
    assert "+210.00" in html and "−210.00" in html
    assert "2023年 ＼ 2024年 (ha)" in html and "30,000.00" in html
    # bulletin paragraphs and the class-boundary convention
    assert "属于轻度流失区" in html and html.count("<p>2024年") == 1
    assert "lower ≤ A &lt; upper" in html


def test_text_from_data_is_escaped(tmp_path, figures):
    kwargs = report_kwargs(
        figures,
        district_name='<img src=x onerror="alert(2)">',
        bulletin_paragraph=BULLETIN + "\n<b>bold</b> & <i>",
        extra_sections=[
            {"title": MALICIOUS, "text": "a < b"},
            ("附表 <Annex>", pd.DataFrame({MALICIOUS: ["<td>", 1.5]})),
        ],
        figures={**figures, MALICIOUS: figures["class_shares"]},
    )
    html = build_html_report(tmp_path / "r.html", **kwargs).read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<img src=x" not in html and "<b>bold</b>" not in html and "<td><td>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html and "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;" in html
    assert "附表 &lt;Annex&gt;" in html and "a &lt; b" in html
    assert "<td>&lt;td&gt;</td>" in html and '<th scope="col">&lt;script&gt;' in html


def test_every_figure_is_embedded_as_a_data_uri(tmp_path, figures):
    html = build_html_report(tmp_path / "r.html", **report_kwargs(figures)).read_text("utf-8")
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == len(figures)
    assert [base64.b64decode(u) for u in uris] == [p.read_bytes() for p in figures.values()]
    for key in figures:
        assert f'data-figure="{key}"' in html
    assert "土壤侵蚀强度分级图" in html  # standard caption of intensity_map


def test_no_external_references(tmp_path, figures):
    html = build_html_report(tmp_path / "r.html", **report_kwargs(figures)).read_text("utf-8")
    assert not re.search(
        r"""(src|href|action|poster|data)\s*=\s*["']?\s*(https?:)?//""", html, re.I
    )
    assert not re.search(r"url\(|@import|<link|<script|<iframe|<object", html, re.I)
    assert re.findall(r'\ssrc="([a-z]+):', html) == ["data"] * len(figures)
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert meta and htmllib.unescape(meta.group(1)) == CSP
    assert CSP.startswith("default-src 'none'; img-src data:; style-src 'unsafe-inline'")


def test_same_inputs_give_the_same_bytes(tmp_path, figures):
    a = build_html_report(tmp_path / "a.html", **report_kwargs(figures)).read_bytes()
    b = build_html_report(tmp_path / "b.html", **report_kwargs(figures)).read_bytes()
    assert a == b
    c = build_html_report(
        tmp_path / "c.html", **report_kwargs(figures), footer="生成于 2025-01-02"
    ).read_bytes()
    assert c != a and "生成于 2025-01-02".encode() in c


def test_written_atomically_and_bad_inputs_leave_the_old_file(tmp_path, figures):
    out = tmp_path / "sub" / "report.html"
    build_html_report(out, **report_kwargs(figures))
    before = out.read_bytes()
    with pytest.raises(InputDataError, match=r"figure 'lost': file not found: .*missing\.png"):
        build_html_report(out, **report_kwargs(figures, figures={"lost": tmp_path / "missing.png"}))
    not_png = tmp_path / "fake.png"
    not_png.write_text("<svg/>")
    with pytest.raises(InputDataError, match="is not a PNG or JPEG"):
        build_html_report(out, **report_kwargs(figures, figures={"x": not_png}))
    with pytest.raises(InputDataError, match=r"district table lacks column\(s\) \['area_ha'\]"):
        build_html_report(
            out, **report_kwargs(figures, district_table=district_table().drop(columns="area_ha"))
        )
    with pytest.raises(InputDataError, match="extra section 1: expected a dict with 'title'"):
        build_html_report(out, **report_kwargs(figures, extra_sections=["just text"]))
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]


def test_change_summary_with_embedded_matrix_and_years(tmp_path):
    summary = {
        **change_summary(),
        "year0": 2020,
        "year1": 2024,
        "unchanged_ha": 36590.0,
        "matrix": change_matrix(),
    }
    for entry in summary["per_class"]:
        entry["net_change_pct"] = 100 * entry["net_change_ha"] / entry["area_y0_ha"]
    html = render_html_report(
        title="T",
        district_name="D",
        year=2024,
        bulletin_paragraph=None,
        district_table=district_table(),
        summary={},
        change=summary,
    )
    assert 'id="change-matrix"' in html and "2020年 ＼ 2024年 (ha)" in html
    assert "等级未变面积 Unchanged class" in html and "36,590.00" in html
    assert "变化率 Relative change (%)" in html and "+0.70" in html  # 微度 +210 of 30,090 ha


def test_minimal_report_without_optional_parts(tmp_path):
    html = render_html_report(
        title="T",
        district_name="D",
        year=2024,
        bulletin_paragraph=None,
        district_table=district_table(),
        summary=None,
    )
    assert 'id="district-table"' in html and 'id="zones"' not in html and "<img" not in html
    table = district_table().assign(share_of_erosion_pct=np.nan)
    html = render_html_report(
        title="T",
        district_name="D",
        year=2024,
        bulletin_paragraph="x",
        district_table=table,
        summary={},
        change=change_summary(),  # the summary alone: years unknown
    )
    assert "Y0年面积 Area Y0 (ha)" in html and "—" in html


# ----------------------------------------------------------------------- browser checks
class DevTools:
    """Minimal Chrome DevTools Protocol client over --remote-debugging-pipe (fds 3/4)."""

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--remote-debugging-pipe",
    )

    def __init__(self, profile_dir: Path, *, timeout: float = 60.0):
        self.deadline = time.monotonic() + timeout
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the child puts our pipe ends on fds 3 and 4, then becomes Chromium
        launcher = (
            "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
            "os.execv(sys.argv[3], sys.argv[3:])"
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                launcher,
                str(to_browser_r),
                str(from_browser_w),
                str(CHROMIUM),
                *self.FLAGS,
                f"--user-data-dir={profile_dir}",
                "about:blank",
            ],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._messages: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from_browser, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                while b"\0" in buffer:
                    message, buffer = buffer.split(b"\0", 1)
                    self._messages.put(json.loads(message))
        self._messages.put(None)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._get()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._get()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _get(self) -> dict:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("Chromium did not answer in time")
        message = self._messages.get(timeout=remaining)
        if message is None:
            raise RuntimeError(f"Chromium closed the pipe (exit code {self.proc.poll()})")
        return message

    def close(self) -> None:
        try:
            os.write(self._to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode())
            os.write(self._to_browser, b"\0")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._to_browser)


_DOM_PROBE = """JSON.stringify({
  title: document.title,
  districtRows: document.querySelectorAll('#district-table tbody tr').length,
  zoneTables: document.querySelectorAll('#zones table').length,
  changeTables: document.querySelectorAll('#change table').length,
  figures: Array.from(document.querySelectorAll('figure img')).map(img => ({
    key: img.closest('figure').dataset.figure,
    scheme: img.src.split(':')[0],
    loaded: img.complete && img.naturalWidth > 0,
    width: img.naturalWidth,
  })),
  scripts: document.scripts.length,
  malicious: Array.from(document.querySelectorAll('td'))
    .some(td => td.textContent === '<script>alert(1)</script>'),
})"""


def load_in_chromium(html_path: Path, screenshot: Path | None = None) -> dict:
    """Open a file in headless Chromium; the page's requests, log, DOM probe, screenshot."""
    with tempfile.TemporaryDirectory(prefix="shuibao-chromium-") as profile:
        browser = DevTools(Path(profile))
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            for domain in ("Page", "Network", "Log", "Runtime"):
                browser.send(f"{domain}.enable", session=session)
            browser.send("Page.navigate", {"url": html_path.resolve().as_uri()}, session=session)
            browser.wait_for("Page.loadEventFired")
            probe = browser.send(
                "Runtime.evaluate",
                {"expression": _DOM_PROBE, "returnByValue": True},
                session=session,
            )
            dom = json.loads(probe["result"]["value"])
            if screenshot is not None:
                size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
                browser.send(
                    "Emulation.setDeviceMetricsOverride",
                    {
                        "width": 1200,
                        "height": int(min(size["height"], 16000)),
                        "deviceScaleFactor": 1,
                        "mobile": False,
                    },
                    session=session,
                )
                shot = browser.send(
                    "Page.captureScreenshot",
                    {"format": "png", "captureBeyondViewport": True},
                    session=session,
                )
                screenshot.write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.close()
    events = browser.events
    return {
        "dom": dom,
        "requests": [
            e["params"]["request"]["url"]
            for e in events
            if e.get("method") == "Network.requestWillBeSent"
        ],
        "failed": [e["params"] for e in events if e.get("method") == "Network.loadingFailed"],
        "log": [
            e["params"]["entry"]["text"] for e in events if e.get("method") == "Log.entryAdded"
        ],
        "exceptions": [e for e in events if e.get("method") == "Runtime.exceptionThrown"],
    }


def leaving_requests(urls: list[str]) -> list[str]:
    """Requests that would leave the page's own file: the page itself and data: are fine."""
    return [u for u in urls if not (u.startswith("data:") or u.startswith("file://"))]


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium not installed at /usr/bin/chromium "
    "(apt-get install -y chromium; .ci/run installs it)",
)


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_report_renders_offline_in_chromium(tmp_path, figures):
    out = build_html_report(tmp_path / "report.html", **report_kwargs(figures))
    screenshot = tmp_path / "report_screenshot.png"
    result = load_in_chromium(out, screenshot)
    dom = result["dom"]
    assert dom["title"] == "2024年示例区水土流失动态监测公报"
    assert dom["districtRows"] == 6 and dom["zoneTables"] == 2 and dom["changeTables"] == 2
    assert [f["key"] for f in dom["figures"]] == list(figures)
    assert all(f["loaded"] and f["scheme"] == "data" and f["width"] > 300 for f in dom["figures"])
    assert dom["scripts"] == 0 and dom["malicious"]  # the name is text in a cell, not a script
    # no request leaves the page, nothing was blocked or failed, no CSP complaint
    assert leaving_requests(result["requests"]) == []
    assert result["failed"] == [] and result["exceptions"] == []
    assert not [t for t in result["log"] if "Refused" in t or "Content Security" in t]
    # the maps and charts are really drawn: the class colours are on screen
    from matplotlib import image as mimage

    rgb = mimage.imread(screenshot)[..., :3]
    assert rgb.shape[0] > 2000 and rgb.shape[1] == 1200
    for code in (1, 2, 6):
        assert colour_mask(rgb, maps.CLASS_COLOURS[code]).sum() > 2000


@pytest.mark.browser
@needs_chromium
def test_browser_check_catches_an_external_request(tmp_path):
    """Negative control: the same harness reports a page that asks the network."""
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://tiles.example.invalid/a.png"></body></html>',
        encoding="utf-8",
    )
    result = load_in_chromium(page)
    assert leaving_requests(result["requests"]) == ["http://tiles.example.invalid/a.png"]
    assert result["failed"]  # name resolution failed: nothing reached the network
