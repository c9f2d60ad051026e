"""`python -m storage.s3server` as a user runs it: --env lines a shell can source, and
SIGTERM or Ctrl-C end it in seconds with weed gone, its ports closed and its data folder
free for the next start (it used to hang for good, holding the folder's lock)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from storage.archive import open_archive
from storage.s3server import GRPC_OFFSET, port_is_free, remove_stale_sockets

REPO = Path(__file__).resolve().parent.parent


def start_server(home: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EPAPER_", "AWS_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "storage.s3server", "--env"],
        cwd=REPO,
        env={**env, "EPAPER_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_exports(server: subprocess.Popen) -> dict[str, str]:
    """The variables of the `export` lines, parsed as a shell would (two lines, then it serves)."""
    exports = {}
    for _ in range(2):
        line = server.stdout.readline()
        words = shlex.split(line)
        assert words and words[0] == "export", (
            f"not an export line: {line!r} ({server.stderr.read()})"
        )
        exports.update(word.split("=", 1) for word in words[1:])
    return exports


def aws_client(exports: dict[str, str]):
    session = boto3.Session(
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    return session.client(
        "s3",
        endpoint_url=exports["AWS_ENDPOINT_URL_S3"],
        config=Config(s3={"addressing_style": "path"}),
    )


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in found.read_text().split()] if found.exists() else []


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_env_lines_reach_the_server_and_a_signal_stops_it_for_good(tmp_path, signum):
    server = start_server(tmp_path)
    try:
        exports = read_exports(server)
        weed = children(server.pid)
        assert len(weed) == 1 and alive(weed[0])
        ports = json.loads((tmp_path / "s3" / "ports.json").read_text())
        assert exports["EPAPER_S3_ENDPOINT"] == f"127.0.0.1:{ports['s3']}"
        assert exports["AWS_ENDPOINT_URL_S3"] == f"http://127.0.0.1:{ports['s3']}"

        # the project's client from the EPAPER_S3_* names, as `epaper` would use them ...
        saved = {k: os.environ.get(k) for k in exports}
        os.environ.update(exports)
        try:
            with open_archive(bucket="handmade") as archive:  # creates it, versioned
                archive.put("note.txt", b"written by epaper")
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        # ... and boto3 from the AWS_* ones
        s3 = aws_client(exports)
        assert (
            s3.get_object(Bucket="handmade", Key="note.txt")["Body"].read() == b"written by epaper"
        )
        s3.put_object(Bucket="handmade", Key="note.txt", Body=b"written with boto3")

        server.send_signal(signum)
        assert server.wait(timeout=30) == 128 + signum  # it used to hang here for good
        assert not alive(weed[0])
        assert all(port_is_free(p) and port_is_free(p + GRPC_OFFSET) for p in ports.values())
    finally:
        server.kill()
        server.communicate()
    remove_stale_sockets(ports)

    again = start_server(tmp_path)  # the data folder's lock was let go: this start works
    try:
        exports = read_exports(again)
        versions = aws_client(exports).list_object_versions(Bucket="handmade")["Versions"]
        assert len(versions) == 2  # both writes, kept across the restart
        assert (
            aws_client(exports).get_object(Bucket="handmade", Key="note.txt")["Body"].read()
            == b"written with boto3"
        )
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        again.kill()
        again.communicate()
    remove_stale_sockets(json.loads((tmp_path / "s3" / "ports.json").read_text()))


def test_a_signal_during_start_up_stops_it_too(tmp_path):
    server = start_server(tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not children(server.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        weed = children(server.pid)
        assert weed, "weed never started"
        server.send_signal(signal.SIGTERM)  # start() is waiting for weed to be ready
        assert server.wait(timeout=30) == 128 + signal.SIGTERM
        assert not alive(weed[0])
    finally:
        server.kill()
        server.communicate()
    remove_stale_sockets(json.loads((tmp_path / "s3" / "ports.json").read_text()))
