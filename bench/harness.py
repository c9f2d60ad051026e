"""What the pipeline benches share: the machine line, a scratch environment, replica
editions, the S3 server and the Prefect API they run against, and timing helpers.

Every bench runs in a scratch EPAPER_HOME (a temporary folder unless given) with the
politeness delay off: the replica is our own server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import resource
import shlex
import statistics
import sys
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# One paper per CMS family, as in the demo (replica.demo_sites).
PAPERS = {
    "founder-new": "bcrb",
    "founder-classic": "pdtimes",
    "paperindex": "dzrb",
    "xmwb": "xmwb",
    "whb": "whb",
    "jfdaily": "jfdaily",
}
FIRST_DATE = date(2025, 3, 1)


def machine() -> dict:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "usable_cores": affinity,
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"{m['cores']} cores ({m['usable_cores']} usable), {m['date']}, "
        f"Python {m['python']}, {m['platform']}"
    )


def command_line() -> str:
    """The command that is running, as one would type it from the repository root."""
    module = sys.modules["__main__"].__spec__
    head = f"python -m {module.name}" if module else f"python {sys.argv[0]}"
    return " ".join([head, *map(shlex.quote, sys.argv[1:])])


def dates(n: int, offset: int = 0) -> list[date]:
    return [FIRST_DATE + timedelta(days=offset + i) for i in range(n)]


def build_sites(families: list[str], days: list[date], pages: int) -> list:
    """One replica site per family, each holding the editions of `days` (no traps that
    change between runs: nothing answers 429)."""
    from replica import build_site

    options = {"founder-new": {"skin": "swiper"}}
    return [
        build_site(f, PAPERS[f], days, pages=pages, missing={}, **options.get(f, {}))
        for f in families
    ]


def write_papers_file(sites, base_url: str, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [site.paper_entry(base_url) for site in sites]
    path.write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """os.environ with `values` set (None removes), restored on exit."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def scratch(workdir: str | None = None) -> Iterator[Path]:
    """A scratch EPAPER_HOME with the politeness delay off and analytics off."""
    with contextlib.ExitStack() as stack:
        home = (
            Path(workdir)
            if workdir
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="epaper-bench-")))
        )
        home.mkdir(parents=True, exist_ok=True)
        stack.enter_context(
            environment(
                EPAPER_HOME=str(home),
                EPAPER_DOWNLOAD_DELAY="0",
                EPAPER_CATALOG_URL=None,
                PREFECT_SERVER_ANALYTICS_ENABLED="false",
                DO_NOT_TRACK="1",
                PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
                PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            )
        )
        yield home


@contextlib.contextmanager
def s3_server(home: Path, bucket: str = "bench") -> Iterator[dict]:
    """An embedded SeaweedFS for the bench (or the one EPAPER_S3_ENDPOINT names), its
    settings exported to the environment so subprocesses use it too."""
    if os.environ.get("EPAPER_S3_ENDPOINT"):
        with environment(EPAPER_S3_BUCKET=bucket):
            yield {k: os.environ[k] for k in os.environ if k.startswith("EPAPER_S3_")}
        return
    from storage.s3server import EmbeddedS3

    with EmbeddedS3(home / "s3") as server:
        env = {
            "EPAPER_S3_ENDPOINT": server.endpoint,
            "EPAPER_S3_ACCESS_KEY": server.access_key,
            "EPAPER_S3_SECRET_KEY": server.secret_key,
            "EPAPER_S3_SECURE": "0",
            "EPAPER_S3_BUCKET": bucket,
        }
        with environment(**env):
            yield env


PREFECT_HOME = ROOT / ".epaper" / "bench-prefect"  # kept: a new database migrates for ~1 min


@contextlib.contextmanager
def prefect_api(home: Path = PREFECT_HOME) -> Iterator[str]:
    """A Prefect API server in a subprocess (as a deployment's server is), on a database
    of its own under `home`; PREFECT_API_URL points at it for this process and its
    children. With PREFECT_API_URL already set, that server is used."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    home.mkdir(parents=True, exist_ok=True)
    with environment(PREFECT_HOME=str(home)):
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker
        from prefect.server.api.server import SubprocessASGIServer
        from prefect.settings import PREFECT_API_URL, temporary_settings
        from prefect.utilities.asyncutils import run_coro_as_sync

        server = SubprocessASGIServer()  # the default instance: flows find it, start no other
        server.start(
            timeout=int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180"))
        )

        async def drain():  # logs and events out before the server goes
            try:
                result = APILogWorker.instance().drain()
                if hasattr(result, "__await__"):
                    await result
            except RuntimeError:
                pass
            result = EventsWorker.drain_all()
            if hasattr(result, "__await__"):
                await result

        try:
            with (
                temporary_settings({PREFECT_API_URL: server.api_url}),
                environment(PREFECT_API_URL=server.api_url),
            ):
                try:
                    yield server.api_url
                finally:
                    run_coro_as_sync(drain())
        finally:
            server.stop()


def median(values) -> float:
    return statistics.median(values)


def maxrss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory (Linux reports KiB) of this process, or of the largest of
    its waited-for children with RUSAGE_CHILDREN."""
    return resource.getrusage(who).ru_maxrss / 1024


def table(headers: list[str], rows: list[list], aligns: str | None = None) -> str:
    """A Markdown table, columns padded so it also reads as plain text."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    aligns = aligns or "l" + "r" * (len(headers) - 1)

    def line(row):
        return (
            "| "
            + " | ".join(
                c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, aligns)
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2)) for w, a in zip(widths, aligns)
        )
        + "|"
    )
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])
