"""``fleetsim report`` rebuilds a real run folder's plots and report (its own file, so it
runs beside ``tests/test_cli.py``)."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import fleetsim


def test_report_rebuilds_plots_and_html_from_a_real_run_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    r = fleetsim("run", "scenarios/quickstart.yaml", "--stations", "20", "--duration", "4s",
                 "--quiet", "--out", str(run_dir))
    assert r.returncode == 0, r.stdout + r.stderr
    for f in (run_dir / "plots").iterdir():
        f.unlink()
    (run_dir / "report.html").unlink()
    r = fleetsim("report", str(run_dir))
    assert r.returncode == 0, r.stdout + r.stderr
    import matplotlib.image

    for png in ("latency", "latency_cdf", "throughput", "stations", "fleet_power"):
        img = matplotlib.image.imread(run_dir / "plots" / f"{png}.png")
        assert img.std() > 0.01, png  # not a blank canvas
    html = (run_dir / "report.html").read_text()
    assert "quickstart" in html and "data:image/png;base64," in html and "http://" not in html
