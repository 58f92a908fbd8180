"""The temporary Prefect server of a command goes with the command, even when it is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import crops, write_png

pytestmark = pytest.mark.slow  # a real server, a killed process or network training: see pyproject's markers


def test_kill_9_of_the_command_takes_its_temporary_server_with_it(tmp_path):
    for k, image in enumerate(crops(6, 256)):
        write_png(tmp_path / "in" / f"s{k}.png", image)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path / "home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    command = [sys.executable, "-m", "flows", "restore", str(tmp_path / "in"), str(tmp_path / "out"), "--method", "nlm", "--workers", "1"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    children: list[psutil.Process] = []
    while time.monotonic() < deadline and proc.poll() is None:
        children = parent.children(recursive=True)
        if children and any("server" in " ".join(c.cmdline()) or "uvicorn" in " ".join(c.cmdline()) for c in children):
            break
        time.sleep(0.1)
    assert children, "the command started no server"
    time.sleep(1.0)  # well into the run
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, f"left running: {[c.cmdline() for c in alive]}"  # Prefect's own temporary server stayed up before
