"""A temporary Prefect server for one command-line run, which goes when the command goes.

Without ``PREFECT_API_URL``, Prefect starts a temporary server in a child
process and stops it at exit; a command killed with SIGKILL never reaches
that, and the server is left running. This one is started by the command
with a pipe on its standard input that only the command holds: however the
command ends, the kernel closes the pipe, the server sees end-of-file and
stops. Same server, settings and database as Prefect's own temporary one.

Run as ``python -m flows.temporary_server PORT`` (by :func:`start` only).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

STARTUP_TIMEOUT_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*, timeout: float = STARTUP_TIMEOUT_SECONDS) -> tuple[subprocess.Popen, str]:
    """Start the server; return the process and its API URL once it answers."""
    from prefect.settings import get_current_settings

    port = _free_port()
    env = {
        **os.environ,
        **get_current_settings().to_environment_variables(exclude_unset=True),
        # as Prefect's own temporary server: no UI, ephemeral-mode services
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline: no telemetry, and no error line about it
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.temporary_server", str(port)],
        stdin=subprocess.PIPE,
        env=env,
        start_new_session=True,  # a terminal's Ctrl-C reaches the command, which then closes the pipe
    )
    url = f"http://127.0.0.1:{port}/api"
    if not wait_until_healthy(url, proc, timeout=timeout):
        stop(proc)
        raise RuntimeError(f"the temporary Prefect server did not start on port {port} (exit status {proc.returncode})")
    return proc, url


def wait_until_healthy(api_url: str, proc: subprocess.Popen, *, timeout: float) -> bool:
    """Whether the server at ``api_url`` answers its health check before ``proc`` ends or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _drain_prefect_workers(timeout: float = 10) -> None:
    """Send the log records and events still queued in this process before the server goes."""
    import logging

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        chatter = logging.getLogger(worker.__name__)  # "still processing items": expected while draining
        level = chatter.level
        chatter.setLevel(logging.ERROR)
        try:
            worker.drain_all(timeout=timeout, at_exit=False)
        except Exception:  # draining is best effort: the run itself is over
            pass
        finally:
            chatter.setLevel(level)


def stop(proc: subprocess.Popen, *, grace: float = 10) -> None:
    """Stop the server once this process's queued logs and events are sent: close its pipe, then signal its group if it lingers."""
    if proc.poll() is None:
        _drain_prefect_workers()
    if proc.stdin is not None and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _stop_when_stdin_closes() -> None:
    try:
        while sys.stdin.buffer.read(1 << 16):
            pass
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM
    time.sleep(10)
    os._exit(0)


def main(port: int) -> None:
    """Serve the Prefect API on 127.0.0.1:``port`` until standard input closes."""
    import uvicorn

    threading.Thread(target=_stop_when_stdin_closes, name="parent-watch", daemon=True).start()
    uvicorn.run("prefect.server.api.server:create_app", factory=True, host="127.0.0.1", port=port, log_level="error", lifespan="on")


if __name__ == "__main__":  # pragma: no cover - the child process
    main(int(sys.argv[1]))
