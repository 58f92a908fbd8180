"""A real ``prefect server start``, a served deployment triggered through the client, and the run in a browser.

The server runs on 127.0.0.1 with its own temporary PREFECT_HOME and is
stopped by its process id. The browser test drives Debian's headless
Chromium through ChromeDriver (``.ci/run`` installs both).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deployments.local_server import clean_environment, start_server, stop_process
from tests.conftest import keep_screenshots, write_png
from tests.flows.test_incremental import crops

pytestmark = pytest.mark.slow  # a real server, a killed process or network training: see pyproject's markers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``prefect server start`` on a free port of 127.0.0.1; yields its base URL; stopped by its pid."""
    proc, url = start_server(tmp_path_factory.mktemp("server-home"))
    try:
        yield url
    finally:
        stop_process(proc)
    assert proc.poll() is not None


@pytest.fixture(scope="module")
def served(server, tmp_path_factory):
    """``python -m deployments.serve`` on a schedule file over a small archive; two runs of restore/nightly."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    work = tmp_path_factory.mktemp("served")
    images = crops(4, 64)
    for k, image in enumerate(images[:3]):
        write_png(work / "archive" / f"scan{k}.png", image)
    schedule = (ROOT / "deployments" / "schedule.toml").read_text()
    schedule = (
        schedule.replace("../demo-out/archive", "archive", 1)
        .replace("../scheduled-out/restored", "restored")
        .replace('method = "nlm"', 'method = "cnn-denoise"')
    )
    (work / "schedule.toml").write_text(schedule.replace('"Europe/Berlin"', '"UTC"'))
    env = clean_environment(
        PREFECT_API_URL=f"{server}/api", PREFECT_HOME=str(work / "home"), PREFECT_LOGGING_LEVEL="INFO",
        ARCHIVE_RESTORE_SCHEDULE=str(work / "schedule.toml"), OMP_NUM_THREADS="1",
    )  # fmt: skip
    log = open(work / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "deployments.serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with temporary_settings({PREFECT_API_URL: f"{server}/api"}):
            _wait_for_deployment("restore/nightly", proc, work)
            runs = []
            for extra in (None, images[3]):
                if extra is not None:  # the archive grows between two nightly runs, by a good file and a broken one
                    write_png(work / "archive" / "scan3.png", extra)
                    (work / "archive" / "broken.tif").write_bytes(b"II*\x00" + b"\x00" * 64)
                runs.append(_wait(run_deployment("restore/nightly", timeout=0), proc, work))
            yield {"runs": runs, "work": work, "url": server}
    finally:
        stop_process(proc)
        log.close()


def _wait_for_deployment(name: str, proc, work: Path, timeout: float = 120) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            try:
                client.read_deployment_by_name(name)
                return
            except ObjectNotFound:
                assert proc.poll() is None, (work / "serve.log").read_text()
                assert time.monotonic() < deadline, f"{name} was not served: " + (work / "serve.log").read_text()[-3000:]
                time.sleep(0.5)


def _wait(flow_run, proc, work: Path, timeout: float = 180):
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run.id)
            if run.state is not None and run.state.is_final():
                return run
            assert proc.poll() is None, (work / "serve.log").read_text()
            assert time.monotonic() < deadline, f"flow run still {run.state_name}: " + (work / "serve.log").read_text()[-3000:]
            time.sleep(0.5)


def test_served_deployment_runs_with_task_runs_artifacts_and_library_logs(served):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    first, second = served["runs"]
    archive = served["work"] / "archive"
    with temporary_settings({PREFECT_API_URL: f"{served['url']}/api"}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("restore/nightly")
        assert [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules] == [("0 2 * * *", "UTC")]
        assert deployment.parameters["method"] == "cnn-denoise" and deployment.parameters["input"] == str(archive)

        for run, report in ((first, "| 3 | 0 | 0 | 0 |"), (second, "| 1 | 0 | 3 | 1 |")):
            assert run.state.is_completed(), run.state
            if run is second:  # the broken file: not a plain "Completed" in the runs list
                assert run.state.name == "Completed with failures" and "1 of 5 files failed (broken.tif)" in run.state.message, run.state
            assert run.name == "restore-cnn-denoise-archive"  # the base name of the archive, not its absolute path
            only_this = FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
            task_runs = client.read_task_runs(flow_run_filter=only_this)
            assert all(t.state.is_completed() for t in task_runs)
            names = {t.name for t in task_runs}
            assert any(n.startswith("stage-archive") for n in names) and any(n.startswith("restore-cnn-denoise-scan") for n in names), names
            artifacts = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id={"any_": [run.id]}))}
            assert set(artifacts) == {"restore-progress", "restore-report", "restore-files"}
            assert float(artifacts["restore-progress"].data) == 100.0
            assert report in artifacts["restore-report"].data
            files = {row["path"]: row["run"] for row in json.loads(artifacts["restore-files"].data)}
            assert len(files) == (3 if run is first else 5) and files["scan0.png"] == ("new" if run is first else "skipped")
        deadline = time.monotonic() + 30  # the run's process sends its last logs as it exits
        while True:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[second.id])))
            library = [entry.message for entry in logs if entry.name.startswith("restoration")]
            if library or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(library) == 1 and library[0].startswith("loaded denoise model"), library  # the library's own log record
    assert sorted(p.name for p in (served["work"] / "restored").glob("*.png")) == ["scan0.png", "scan1.png", "scan2.png", "scan3.png"]


def test_flow_run_and_its_artifacts_show_in_headless_chromium(served, tmp_path, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    run, driver = served["runs"][1], chromium
    driver.get(f"{served['url']}/runs/flow-run/{run.id}")
    body = lambda: driver.find_element(By.TAG_NAME, "body").text  # noqa: E731
    WebDriverWait(driver, 60).until(lambda _: run.name in body() and "Completed with failures" in body())
    assert "nightly" in body() and "loaded denoise model" in body()  # deployment and the library's log line
    WebDriverWait(driver, 30).until(lambda _: "broken.tif" in body())  # the failed file is named on the run's page (its log line)
    driver.save_screenshot(str(tmp_path / "flow-run.png"))
    tab = driver.find_element(By.CSS_SELECTOR, "li.p-tab#artifacts")
    driver.execute_script("arguments[0].click()", tab)  # the tab strip may be drawn as a menu at this width
    WebDriverWait(driver, 60).until(lambda _: "restore-report" in body() and "restore-progress" in body())
    driver.save_screenshot(str(tmp_path / "artifacts.png"))
    for name in ("flow-run.png", "artifacts.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    keep_screenshots(tmp_path / "flow-run.png", tmp_path / "artifacts.png")
