"""Replay the archive's captures in pywb, over the bucket in place.

pywb reads the WARCs straight from S3 (`archive_paths: s3://BUCKET/raw/`), but its index
cannot live there: the editions' merged CDXJ indexes (dataset/cdxj.py) are pulled into a
local cache, `EPAPER_HOME/replay/indexes/{paper}_{date}.cdxj`, one collection, `epaper`,
over all of them. An edition archived before indexes existed has its WARCs indexed into
the cache by cdxj-indexer; nothing is written to the bucket (replay only reads it).

pywb pins redis 2.10 and lives in an environment of its own: its `wayback` is found via
EPAPER_PYWB, else on PATH. The S3 endpoint and keys go to the pywb process only, in the
variables boto3 reads (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from dataset import cdxj
from papers.home import epaper_home
from storage import keys
from storage.archive import Archive, ArchiveError
from storage.s3server import _die_with_parent

COLLECTION = "epaper"
HOST = "127.0.0.1"
_READY_TIMEOUT = 120.0  # pywb imports a lot; two cores shared by many


class ReplayError(ArchiveError):
    """Replay cannot start: no pywb, a port in use, pywb exiting at once."""


def replay_url(base: str, url: str, timestamp: datetime | str) -> str:
    """The replay of `url` as captured at (or nearest) `timestamp`: a datetime, an ISO
    date-time (a manifest's crawl.started) or 14 digits. pywb redirects to the nearest
    capture, so any time within the crawl finds it."""
    if isinstance(timestamp, str) and not timestamp.isdigit():
        timestamp = datetime.fromisoformat(timestamp)
    return f"{base.rstrip('/')}/{COLLECTION}/{keys.crawl_timestamp(timestamp)}/{url}"


def calendar_url(base: str, url: str) -> str:
    """pywb's page of every capture of `url`, by date."""
    return f"{base.rstrip('/')}/{COLLECTION}/*/{url}"


def wayback_command() -> str:
    """pywb's `wayback`: EPAPER_PYWB, else on PATH; ReplayError says how to get it."""
    found = os.environ.get("EPAPER_PYWB") or shutil.which("wayback")
    if not found or not Path(found).is_file():
        where = f"EPAPER_PYWB={found} is not a file" if found else "no `wayback` on PATH"
        raise ReplayError(
            f"pywb not found ({where}): install it in an environment of its own "
            "(python -m venv .venv-pywb && .venv-pywb/bin/pip install -r requirements-pywb.lock) "
            "and set EPAPER_PYWB=.venv-pywb/bin/wayback"
        )
    return found


def cache_dir() -> Path:
    return epaper_home() / "replay"


@dataclass
class Indexes:
    """What the cache holds after a sync: editions indexed, and the damaged objects."""

    editions: list[tuple[str, str]] = field(default_factory=list)
    captures: int = 0
    damaged: dict[str, str] = field(default_factory=dict)  # key -> reason


def _editions(archive: Archive) -> dict[tuple[str, str], list[str]]:
    """(paper, date) -> every key in its raw/ folder."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in archive.list("raw/"):
        parts = key.split("/")
        if len(parts) == 4:
            found[(parts[1], parts[2])].append(key)
    return found


def _index_lines(data: bytes) -> Iterator[tuple[str, dict]]:
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            yield line, json.loads(line.split(" ", 2)[2])


def _truncated(archive: Archive, warc_key: str, index: bytes) -> str | None:
    """Why the object is shorter than its own index says, or None."""
    end = max(int(e["offset"]) + int(e["length"]) for _, e in _index_lines(index))
    size = archive.stat(warc_key)["size"]
    return f"damaged WARC: {size} bytes, its index reaches {end}" if size < end else None


def edition_index(archive: Archive, objects: list[str], out: Indexes) -> bytes:
    """The edition's merged index for replay: from the bucket, or made by cdxj-indexer for
    WARCs that have none. A damaged WARC is named in `out.damaged`; its lines stay (pywb
    then names the object on replay) when an index of it exists, the others replay."""
    indexes = []
    present = set(objects)
    for warc_key in sorted(filter(keys.is_raw_warc, objects), key=keys.warc_order):
        index_key = keys.warc_index(warc_key)
        try:
            if index_key in present:
                data = archive.get(index_key)
            else:
                with tempfile.TemporaryDirectory(prefix="epaper-replay-") as tmp:
                    path = Path(tmp) / "warc.warc.gz"
                    path.write_bytes(archive.get(warc_key))
                    data = cdxj.index_warc(path, warc_key)
        except cdxj.DamagedWarc as exc:
            out.damaged[warc_key] = str(exc).split(": ", 1)[1]
            continue
        if reason := _truncated(archive, warc_key, data):
            out.damaged[warc_key] = reason
        indexes.append(data)
    return cdxj.merge(indexes)


def sync_indexes(archive: Archive, folder: Path | None = None) -> Indexes:
    """Pull every edition's index into `folder` (default the cache's), replacing what an
    earlier sync left; returns what it holds."""
    folder = folder or cache_dir() / "indexes"
    folder.mkdir(parents=True, exist_ok=True)
    out = Indexes()
    wanted = set()
    for (paper, date), objects in sorted(_editions(archive).items()):
        merged = edition_index(archive, objects, out)
        if not merged:
            continue
        name = f"{paper}_{date}.cdxj"
        wanted.add(name)
        part = folder / f".{name}.part"
        part.write_bytes(merged)
        part.replace(folder / name)  # a running pywb never reads half a file
        out.editions.append((paper, date))
        out.captures += merged.count(b"\n")
    for stale in folder.glob("*.cdxj"):
        if stale.name not in wanted:
            stale.unlink()
    return out


def pywb_config(bucket: str, indexes: Path) -> dict:
    """One collection over every edition; no live web, no recording."""
    return {
        "collections": {
            COLLECTION: {
                "index_paths": str(indexes),
                "archive_paths": f"s3://{bucket}/raw/",
            }
        },
        "framed_replay": True,
        "enable_memento": True,
    }


def pywb_env(archive: Archive) -> dict[str, str]:
    """The pywb process's environment: ours without our own secrets, plus boto3's."""
    secure = os.environ.get("EPAPER_S3_SECURE", "0").strip().lower() in ("1", "true", "yes")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPAPER_S3_", "AWS_"))}
    env.update(
        {
            "AWS_ENDPOINT_URL_S3": f"{'https' if secure else 'http'}://{archive.endpoint}",
            "AWS_ACCESS_KEY_ID": archive.access_key,
            "AWS_SECRET_ACCESS_KEY": os.environ.get("EPAPER_S3_SECRET_KEY", ""),
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            # SeaweedFS and MinIO answer path-style requests (bucket in the path)
            "AWS_CONFIG_FILE": str(_aws_config()),
        }
    )
    return env


def _aws_config() -> Path:
    path = cache_dir() / "aws-config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[default]\ns3 =\n    addressing_style = path\n", encoding="utf-8")
    return path


def _port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ReplayError(
                f"cannot listen on {host}:{port} ({exc.strerror}): pass another --port"
            ) from None


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclass
class Running:
    base: str  # http://host:port
    indexes: Indexes
    process: subprocess.Popen

    def check(self) -> None:
        """ReplayError if pywb has exited."""
        if self.process.poll() is not None:
            raise ReplayError(f"pywb exited with {self.process.returncode} ({_log()})")


def _log() -> Path:
    return cache_dir() / "pywb.log"


@contextmanager
def serve(archive: Archive, port: int = 0, host: str = HOST) -> Iterator[Running]:
    """pywb over the archive on host:port (port 0: any free one) until the block
    ends. Stops pywb however the block ends."""
    wayback = wayback_command()
    root = cache_dir()
    indexes = sync_indexes(archive, root / "indexes")
    port = port or _free_port(host)
    _port_free(host, port)
    (root / "config.yaml").write_text(
        yaml.safe_dump(pywb_config(archive.bucket, root / "indexes")), encoding="utf-8"
    )
    log = _log().open("ab")
    proc = subprocess.Popen(
        [wayback, "-b", host, "-p", str(port), "-d", str(root), "-t", "8"],
        cwd=root,
        env=pywb_env(archive),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: Ctrl-C reaches us, and we stop it
        preexec_fn=_die_with_parent(os.getpid()),  # and it dies with us, even on SIGKILL
    )
    base = f"http://{host}:{port}"
    try:
        _wait_ready(proc, base, _log())
        yield Running(base, indexes, proc)
    finally:
        _stop(proc)
        log.close()


def _wait_ready(proc: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ReplayError(f"pywb exited with {proc.returncode} at start: {tail[0]} ({log})")
        try:
            with urllib.request.urlopen(f"{base}/{COLLECTION}/", timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    raise ReplayError(f"pywb did not answer on {base} within {_READY_TIMEOUT:.0f} s ({log})")


def _stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM pywb's process group, SIGKILL it if it lingers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_replay(
    archive: Archive, port: int, host: str = HOST, echo: Callable[[str], None] = print
) -> None:
    """`epaper replay`: serve until SIGINT or SIGTERM, saying where and what."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with serve(archive, port, host) as running:
            base, indexes = running.base, running.indexes
            echo(
                f"pywb replays {indexes.captures} captures of {len(indexes.editions)} editions "
                f"on {base}/{COLLECTION}/ until Ctrl-C"
            )
            for key, reason in sorted(indexes.damaged.items()):
                echo(f"  damaged: {key} in bucket {archive.bucket!r}: {reason}")
            echo(f"  every capture of a page: {calendar_url(base, 'URL')}")
            echo(f"  indexes: {cache_dir() / 'indexes'}; log: {_log()}")
            while not stop.wait(1):  # a signal handler sets it
                running.check()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    echo("replay: stopped")
