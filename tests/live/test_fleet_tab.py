"""The Fleet tab in a real headless Chromium, on a Locust master with two worker processes.

One short run (--processes 2, embedded CSMS) serves three checks: the page shows the
merged figures (clicked through like a user would), the master's /metrics shows the sum
of both workers, and both agree with the results folder once the run has ended. On a
failure the page's screenshot is kept in the test's tmp folder (named in the message).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.live.test_prometheus import finish, scrape
from tests.locust_adapter.procs import LOCUSTFILE, ROOT, free_port, wait_for

SCENARIO = ROOT / "scenarios" / "ci_smoke.yaml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--window-size=1400,1000"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def table_rows(driver: Any) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    rows = []
    for tr in driver.find_elements(By.CSS_SELECTOR, "tbody tr"):
        rows.append([td.text.strip() for td in tr.find_elements(By.CSS_SELECTOR, "td")])
    return rows


def click_tab(driver: Any, title: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//button[normalize-space()='{title}']").click()


def stable(url: str, timeout: float) -> dict[str, Any]:
    """The figures once two reads 3.5 s apart (a worker reports every 3 s) agree."""
    deadline = time.monotonic() + timeout
    last = get_json(url)
    while time.monotonic() < deadline:
        time.sleep(3.5)
        now = get_json(url)
        same = {k: v for k, v in now.items() if k != "engines"} == {
            k: v for k, v in last.items() if k != "engines"}
        if same:
            return now
        last = now
    raise AssertionError(f"figures at {url} never settled")


def test_fleet_tab_and_metrics_show_both_workers_and_agree_with_summary(tmp_path: Path) -> None:
    web, metrics, master = free_port(), free_port(), free_port()
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--autostart",
           "--autoquit", "60", "--web-host", "127.0.0.1", "--web-port", str(web),
           "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master),
           "--master-port", str(master), "--processes", "2", "--users", "40",
           "--spawn-rate", "40", "--run-time", "8s", "--loglevel", "WARNING",
           "--fleetsim-scenario", str(SCENARIO), "--fleetsim-out", str(out),
           "--fleetsim-metrics-port", str(metrics)]
    log = open(tmp_path / "locust.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{web}"
    driver = None
    try:
        def two_engines() -> bool:
            try:
                d = get_json(f"{base}/fleet/data")
            except OSError:
                return False
            return len(d["engines"]) == 2 and sum(a["sent"] for a in d["actions"]) > 0

        wait_for(two_engines, 90, "both workers' engines on /fleet/data")

        def stopped() -> bool:
            return get_json(f"{base}/stats/requests")["state"] == "stopped"

        wait_for(stopped, 90, "the test to stop")
        data = stable(f"{base}/fleet/data", 40)
        driver = browser(tmp_path / "chromium-profile")
        driver.get(base)
        click_tab(driver, "Fleet")

        def fleet_rows() -> bool:
            return any(r[:2] == ["sessions", "finished"] for r in table_rows(driver))

        wait_for(fleet_rows, 20, "the Fleet tab's rows")
        shown = {(r[0], r[1]): r[2] for r in table_rows(driver) if len(r) == 3}
        for state, n in data["stations"].items():
            assert shown[("stations", state)] == str(n), state
        assert shown[("sessions", "finished")] == str(data["sessions"]["finished"])
        assert shown[("sessions", "started")] == str(data["sessions"]["started"])
        assert sum(1 for s, _ in shown if s == "engine") == 2
        for kind, n in data["errors"].items():
            assert shown[("errors", kind)] == str(n)
        click_tab(driver, "Fleet latency")

        def latency_rows() -> bool:
            return any(r and r[0].endswith("/BootNotification") for r in table_rows(driver))

        wait_for(latency_rows, 20, "the Fleet latency tab's rows")
        lat = {r[0]: r for r in table_rows(driver) if r}
        for a in data["actions"]:
            row = lat[a["name"]]
            assert row[1:4] == [str(a["calls"]), str(a["sent"]), str(a["answered"])], row
            assert float(row[6]) == pytest.approx(a["p90"]) and float(row[9]) == pytest.approx(
                a["max"]), row
        # the separate Prometheus port on the master: the same merged figures, both engines
        m = scrape(metrics)
        assert m["fleetsim_engines"][()] == 2
        for a in data["actions"]:
            version, action = a["name"].split("/", 1)
            assert m["fleetsim_calls_sent_total"][(("action", action),
                                                   ("version", version))] == a["sent"]
    except BaseException:
        if driver is not None:
            shot = tmp_path / "fleet-tab-failure.png"
            driver.save_screenshot(str(shot))
            print(f"screenshot of the failing page: {shot}", file=sys.stderr)
        raise
    finally:
        if driver is not None:
            driver.quit()
        finish(proc, log)  # ends autoquit's wait: Locust quits, the master merges
    # the results folder, merged from both workers' final files, is the ground truth
    summary = json.loads((out / "summary.json").read_text())
    assert len(list((out / "workers").glob("*/recorder.json"))) == 2
    for a in data["actions"]:
        s = summary["actions"][a["name"]]
        assert (a["calls"], a["sent"], a["errors"]) == (s["calls"], s["sent"], s["errors"])
        assert a["p99"] == pytest.approx(s["p99_ms"]) and a["max"] == pytest.approx(s["max_ms"])
    assert data["sessions"]["finished"] == summary["sessions"]["completed"]
