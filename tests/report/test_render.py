"""render(): every plot is a real, non-blank PNG; report.html is self-contained."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fleetsim.report import PLOT_FILES, render, write_html

from .conftest import MakeResults, Rendered

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _pixels(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    return np.asarray(imread(path))


def _assert_real_png(path: Path, *, min_bytes: int) -> np.ndarray:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), path
    assert len(data) > min_bytes, (path, len(data))
    pixels = _pixels(path)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 400
    assert float(pixels[..., :3].var()) > 1e-3, f"{path.name} is blank"
    return pixels


def test_render_writes_every_plot_with_data(rendered: Rendered) -> None:
    for name in PLOT_FILES:
        pixels = _assert_real_png(rendered.folder / "plots" / name, min_bytes=20_000)
        rgb = (pixels[..., :3] * 255).astype(np.uint32)
        colors = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
        assert len(colors) > 50, f"{name}: only {len(colors)} colours, no data drawn?"


def test_report_html_is_self_contained(rendered: Rendered) -> None:
    html = (rendered.folder / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert html.count('src="data:image/png;base64,') == len(PLOT_FILES)
    for text in ("synthetic", "2.0.1/TransactionEvent", "p99.9", "seed", "timeout",
                 "residential_ac", "EVDisconnected"):
        assert text in html, text
    assert "not valid" not in html


def test_render_returns_plots_then_report(rendered: Rendered) -> None:
    assert [p.name for p in rendered.written] == [*PLOT_FILES, "report.html"]
    assert all(p.parent == rendered.folder / "plots" for p in rendered.written[:-1])
    assert all(p.is_file() for p in rendered.written)


def test_invalid_generator_and_slos_show_in_the_report(make_results: MakeResults) -> None:
    from fleetsim.report import evaluate, load_summary, write_slo_json

    folder = make_results(valid=False)
    verdicts = evaluate(["generator.valid == false", "2.0.1/TransactionEvent.p99 > 1s",
                         "2.1/Nothing.p50 > 1ms"], load_summary(folder))
    write_slo_json(verdicts, folder / "slo.json")
    html = write_html(folder).read_text(encoding="utf-8")
    assert 'class="warn"' in html and "not valid" in html
    assert "event-loop lag p99 120 ms &gt; 50 ms" in html  # escaped warning text
    assert "2 of 3 SLO(s) failed" in html and "no samples" in html


def test_text_from_the_folder_is_escaped(make_results: MakeResults) -> None:
    folder = make_results()
    (folder / "scenario.yaml").write_text("name: <script>alert(1)</script>\n")
    html = write_html(folder).read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_empty_run_gives_no_data_plots(make_results: MakeResults) -> None:
    folder = make_results(actions={}, sessions=0)
    timeseries = folder / "timeseries.csv"  # keep the header only
    timeseries.write_text(timeseries.read_text().splitlines()[0] + "\n")
    written = render(folder)
    for png in written[:-1]:
        _assert_real_png(png, min_bytes=5_000)
    assert "No calls were made" in written[-1].read_text(encoding="utf-8")


def test_incomplete_run_is_flagged(make_results: MakeResults) -> None:
    import orjson

    folder = make_results()
    summary = orjson.loads((folder / "summary.json").read_bytes())
    summary.update(completed=False, failure="CSMS unreachable: ws://127.0.0.1:1/")
    (folder / "summary.json").write_bytes(orjson.dumps(summary))
    html = write_html(folder).read_text(encoding="utf-8")
    assert "did not complete" in html and "CSMS unreachable" in html


def test_report_shows_the_message_mix(rendered: Rendered) -> None:
    html = (rendered.folder / "report.html").read_text(encoding="utf-8")
    assert "share of calls" in html
    # 1,500 TransactionEvents of 4,900 CALLs; 2,000 MeterValues
    assert "30.6 %" in html and "40.8 %" in html
