"""Start and stop a real ``prefect server start`` on 127.0.0.1 (for tests, benchmarks and trying things out)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from flows.temporary_server import wait_until_healthy


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any PREFECT_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", **extra)
    return env


def start_server(home: os.PathLike | str, *, port: int | None = None, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """Start a server with its own PREFECT_HOME ``home``; return the process and its base URL once healthy.

    The UI is told the API's address (PREFECT_UI_API_URL), so it also works
    on a port other than 4200. The log goes to ``home/server.log``.
    """
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_environment(PREFECT_HOME=str(home), PREFECT_UI_API_URL=f"{url}/api")
    with open(home / "server.log", "w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    if not wait_until_healthy(f"{url}/api", proc, timeout=timeout):
        stop_process(proc)
        raise RuntimeError(f"prefect server did not start on {url}: {(home / 'server.log').read_text()[-2000:]}")
    return proc, url


def stop_process(proc: subprocess.Popen, *, grace: float = 20) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started, by its id."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
