"""A real `prefect server start` on 127.0.0.1 with its own PREFECT_HOME, and processes
(workers, the CLI) pointed at it: the production set-up, without Docker.

    with PrefectServer(tmp_path / "prefect", database_url=...) as server:
        server.run("prefect", "deploy", "--all")
        worker = server.spawn("worker-1", ["prefect", "worker", "start", "--pool", "epaper"])
"""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent  # the virtualenv's prefect and epaper scripts
PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the process group, then SIGINT (a Prefect worker's second signal kills its
    flow runs), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass


class PrefectServer:
    def __init__(self, home: Path, database_url: str | None = None, **settings: str):
        """`database_url`: PREFECT_API_DATABASE_CONNECTION_URL (default: SQLite in `home`);
        `settings`: more environment for the server and every process started with `env`."""
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # flow runs start `python`
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            **({"PREFECT_API_DATABASE_CONNECTION_URL": database_url} if database_url else {}),
            **settings,
        }
        self.log = home / "server.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> PrefectServer:
        self.home.mkdir(parents=True, exist_ok=True)
        self.process = self.spawn(
            "server",
            ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
        )
        deadline = time.monotonic() + 180  # a fresh database is migrated first
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"prefect server not ready in 180 s: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            stop(self.process)

    def spawn(self, name: str, command: list[str], **env: str) -> subprocess.Popen:
        """A long-running process (server, worker) in its own process group, logging to
        home/name.log."""
        with open(self.home / f"{name}.log", "ab") as log:
            return subprocess.Popen(
                [str(BIN / command[0]), *command[1:]],
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=PROJECT,
            )

    def run(
        self, *command: str, timeout: float = 300, cwd: Path = PROJECT, **env: str
    ) -> subprocess.CompletedProcess:
        """A command from the virtualenv (prefect, epaper) against this server, in `cwd`."""
        return subprocess.run(
            [str(BIN / command[0]), *command[1:]],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )  # no terminal: Prefect must not prompt

    def run_in_terminal(self, *command: str, timeout: float = 600) -> tuple[int | None, str]:
        """A command as a user at a terminal runs it, typing nothing: a prompt waits until
        `timeout` and the command is stopped (exit code None). Returns (exit code, output)."""
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            env={**self.env, "COLUMNS": "200"},
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            cwd=PROJECT,
            start_new_session=True,
        )
        os.close(terminal)
        output = bytearray()
        deadline = time.monotonic() + timeout
        closed = False
        while not closed and time.monotonic() < deadline:
            if select.select([controller], [], [], 1)[0]:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the command exited and the terminal closed
                    chunk = b""
                output += chunk
                closed = not chunk
        os.close(controller)
        try:
            return process.wait(30 if closed else 0), output.decode(errors="replace")
        except subprocess.TimeoutExpired:
            stop(process)
            return None, output.decode(errors="replace")
