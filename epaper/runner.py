"""How `epaper archive`/`backfill` run their flow at a terminal.

- Prefect's log goes to a file under EPAPER_HOME/logs (and to the terminal with -v); the
  terminal gets one line per edition from the `epaper.editions` logger.
- Without PREFECT_API_URL the run reports to a temporary `prefect server start` of ours, in
  its own session: a Ctrl-C to the terminal's process group reaches only us, the run is
  reported Crashed to a live server, then we stop it. (Prefect's own temporary server shares
  our process group, dies first, and the command then spends minutes failing to report.)
- SIGTERM is a KeyboardInterrupt outside the flow; inside it Prefect raises TerminationSignal.
  Either unwinds every `with` (the crawl process, the embedded SeaweedFS, the work folder).
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from flows.progress import EDITIONS

STOP_TIMEOUT = 10


def log_path(command: str) -> Path:
    from papers.home import epaper_home

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = epaper_home() / "logs" / f"{command}-{stamp}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class _Line(logging.Formatter):
    def __init__(self, line):
        super().__init__()
        self.line = line

    def format(self, record: logging.LogRecord) -> str:
        return self.line(record)


def _terminal_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [
        h
        for h in logger.handlers
        if isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
        and getattr(h, "stream", None) in (sys.stderr, sys.stdout)
    ]


@contextmanager
def terminal_logging(path: Path, verbose: bool, line) -> Iterator[None]:
    """Every log record into `path`; Prefect's console output only if `verbose`; each
    `epaper.editions` record with an `edition` (or a `note`) as `line(record)` on stdout."""
    import prefect  # noqa: F401  (configures Prefect's logging, which is rearranged here)

    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    changed: list[tuple[logging.Logger, list[logging.Handler]]] = []
    names = list(logging.root.manager.loggerDict)
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in names]
    for logger in loggers:
        if logger is logging.root or (not logger.propagate and logger.handlers):
            removed = [] if verbose else _terminal_handlers(logger)
            for handler in removed:
                logger.removeHandler(handler)
            logger.addHandler(to_file)
            changed.append((logger, removed))
    to_terminal = logging.StreamHandler(sys.stdout)
    to_terminal.setFormatter(_Line(line))
    to_terminal.addFilter(lambda record: hasattr(record, "edition") or hasattr(record, "note"))
    EDITIONS.addHandler(to_terminal)
    EDITIONS.setLevel(logging.INFO)
    try:
        yield
    finally:
        EDITIONS.removeHandler(to_terminal)
        for logger, removed in changed:
            logger.removeHandler(to_file)
            for handler in removed:
                logger.addHandler(handler)
        with suppress(OSError):  # a full disk's failed flush must not hide the run's own error
            to_file.close()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def flow_at_terminal(command: str, verbose: bool, line) -> Iterator[Path]:
    """The set-up above around a CLI command's flow run; yields the log file's path.
    A signal ends it as KeyboardInterrupt("SIGINT" or "SIGTERM")."""
    from prefect.exceptions import TerminationSignal

    path = log_path(command)
    try:
        with sigterm_as_interrupt(), terminal_logging(path, verbose, line), prefect_api(path):
            yield path
    except TerminationSignal:  # Prefect's SIGTERM inside a flow run
        raise KeyboardInterrupt("SIGTERM") from None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_session(process: subprocess.Popen) -> None:
    """SIGTERM the process's session (it started one), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            continue


def _drain_prefect() -> None:
    """Send Prefect's buffered logs and events while the server still listens."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain():
        for result in (APILogWorker.drain_all(), EventsWorker.drain_all()):
            if inspect.isawaitable(result):
                await result

    run_coro_as_sync(drain())


@contextmanager
def prefect_api(log: Path) -> Iterator[None]:
    """PREFECT_API_URL if set; else a temporary API server of ours for the command's
    duration (its output into `log`)."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    if PREFECT_API_URL.value():
        try:
            yield
        finally:
            _drain_prefect()
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    command = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-services",
        "--no-ui",
    ]
    with open(log, "ab") as output:
        # Own session: a Ctrl-C at the terminal must not stop it before the run is reported.
        server = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PREFECT_UI_ENABLED": "0"},
        )
    try:
        deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the temporary Prefect server did not start (exit {server.poll()}); see {log}"
                )
            time.sleep(0.2)
        with temporary_settings({PREFECT_API_URL: url}):
            try:
                yield
            finally:
                _drain_prefect()
    finally:
        _stop_session(server)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
