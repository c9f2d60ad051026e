"""storage/: keys, the versioned archive and the embedded SeaweedFS server, all real."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from minio import Minio
from minio.versioningconfig import SUSPENDED, VersioningConfig

from storage import keys
from storage.archive import (
    Archive,
    ArchiveAuthError,
    ArchiveError,
    ArchiveUnavailable,
    ObjectNotFound,
    open_archive,
)
from storage.s3server import (
    GRPC_OFFSET,
    EmbeddedS3,
    EmbeddedS3Error,
    port_is_free,
    remove_stale_sockets,
)

REPO = Path(__file__).resolve().parents[1]


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie nobody reaped yet counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- keys ------------------------------------------------------------------------------


def test_keys_follow_the_layout():
    day = date(2024, 1, 31)
    assert keys.edition_manifest("bcrb", day) == "editions/bcrb/2024-01-31/manifest.json"
    assert (
        keys.article("bcrb", "2024-01-31", 3, "content_123")
        == "articles/bcrb/2024-01-31/03/content_123.json"
    )
    assert keys.page_pdf("xmwb", day, 12) == "pdfs/xmwb/2024-01-31/12.pdf"
    assert keys.page_text("xmwb", day, 1) == "pdfs/xmwb/2024-01-31/01.txt"
    crawl = datetime(2024, 1, 31, 14, 30, 5, tzinfo=timezone(timedelta(hours=8)))
    warc = "raw/bcrb/2024-01-31/bcrb-20240131063005-00000.warc.gz"
    assert keys.raw_warc("bcrb", day, crawl) == warc
    assert keys.warc_index(warc) == "raw/bcrb/2024-01-31/bcrb-20240131063005-00000.cdxj"
    assert keys.edition_index("bcrb", day) == "raw/bcrb/2024-01-31/index.cdxj"
    # Old bare-timestamp names sort by crawl time among the new ones.
    old, new = "raw/bcrb/2024-01-31/20240131T070000Z.warc.gz", warc
    assert sorted([old, new], key=keys.warc_order) == [new, old]
    assert keys.is_raw_warc(old) and not keys.is_raw_warc(keys.warc_index(warc))


@pytest.mark.parametrize(
    "paper", ["..", "/etc", "a/b", "BCRB", "bc rb", "bc\x00rb", "bc\nrb", "", "报"]
)
def test_bad_paper_ids_are_rejected(paper):
    with pytest.raises(ValueError, match="bad paper id"):
        keys.edition_manifest(paper, "2024-01-31")


@pytest.mark.parametrize(
    "day", ["2024-13-01", "2024-1-31", "../2024-01-31", "/2024-01-31", "2024-01-31\n"]
)
def test_bad_dates_are_rejected(day):
    with pytest.raises(ValueError, match="bad edition date"):
        keys.page_pdf("bcrb", day, 1)


@pytest.mark.parametrize("page_no", [-1, "01", 1.0, True])
def test_bad_page_numbers_are_rejected(page_no):
    with pytest.raises(ValueError, match="bad page number"):
        keys.page_pdf("bcrb", "2024-01-31", page_no)


@pytest.mark.parametrize(
    "raw", ["../../etc/passwd", "/abs/id", "a\x00b\x1fc", "content_1.htm", "文章 1", "x" * 300]
)
def test_unsafe_article_ids_become_safe_deterministic_ids(raw):
    safe = keys.article_id(raw)
    assert keys.ARTICLE_ID.fullmatch(safe) and len(safe) <= keys.MAX_ARTICLE_ID
    assert safe == keys.article_id(raw)
    assert safe != keys.article_id(raw + "x")
    keys.check_key(keys.article("bcrb", "2024-01-31", 1, raw))


@pytest.mark.parametrize(
    "key", ["../x", "a/../b", "/abs/key", "a//b", "a/./b", "a\x00b", "a\nb", "a\\b", "", "a/"]
)
def test_check_key_rejects_escapes_and_control_chars(key):
    with pytest.raises(ValueError, match="bad object key"):
        keys.check_key(key)


# -- the archive -----------------------------------------------------------------------


def test_put_writes_a_version_only_when_content_changes(archive_env):
    key = keys.article("bcrb", "2024-01-31", 1, "content_1")
    v1, v2 = b'{"title": "first"}', b'{"title": "second"}'
    with open_archive() as archive:
        first = archive.put(key, v1, "application/json")
        assert first.changed and first.version_id
        again = archive.put(key, v1, "application/json")
        assert not again.changed and again.version_id == first.version_id
        assert len(archive.versions(key)) == 1

        second = archive.put(key, v2, "application/json")
        assert second.changed and second.version_id != first.version_id
        history = archive.versions(key)
        assert [v["version_id"] for v in history] == [second.version_id, first.version_id]
        assert [v["is_latest"] for v in history] == [True, False]
        assert all(type(v["is_latest"]) is bool for v in history)
        assert [v["sha256"] for v in history] == [sha256(v2), sha256(v1)]
        assert [v["size"] for v in history] == [len(v2), len(v1)]
        assert archive.get(key) == v2
        assert archive.get(key, first.version_id) == v1
        info = archive.stat(key)
        assert (info["version_id"], info["sha256"], info["content_type"]) == (
            second.version_id,
            sha256(v2),
            "application/json",
        )
        assert archive.stat(key, first.version_id)["sha256"] == sha256(v1)
        assert not archive.put(key, v2, "application/json").changed
        assert archive.put(key, v1, "application/json").changed  # differs from the latest
        assert len(archive.versions(key)) == 3


def test_put_file_streams_multipart_with_the_same_change_rules(archive_env, tmp_path):
    key = keys.raw_warc("bcrb", "2024-01-31", "20240131T063005Z")
    path = tmp_path / "crawl.warc.gz"
    original = os.urandom(6 * 1024 * 1024)  # above minio's 5 MiB part size: multipart upload
    path.write_bytes(original)
    with open_archive() as archive:
        first = archive.put_file(key, path, "application/warc")
        assert first.changed and first.version_id
        assert archive.put_file(key, path, "application/warc") == first.__class__(
            key, first.version_id, False
        )
        path.write_bytes(
            original[:-1] + bytes([original[-1] ^ 0xFF])
        )  # always a different last byte
        second = archive.put_file(key, path, "application/warc")
        assert second.changed and second.version_id != first.version_id
        assert [v["version_id"] for v in archive.versions(key)] == [
            second.version_id,
            first.version_id,
        ]
        assert archive.get(key, first.version_id) == original
        assert archive.stat(key)["sha256"] == sha256(path.read_bytes())


def test_list_exists_stat_and_missing_objects(archive_env):
    with open_archive() as archive:
        written = [keys.article("bcrb", "2024-01-31", page, f"a{page}") for page in (1, 2)]
        written.append(keys.edition_manifest("bcrb", "2024-01-31"))
        for key in written:
            archive.put(key, key.encode(), "application/json")
        assert list(archive.list("articles/bcrb/")) == sorted(written[:2])
        assert sorted(archive.list()) == sorted(written)
        assert list(archive.list("articles/bcrb/2024-01-31/", recursive=False)) == [
            "articles/bcrb/2024-01-31/01/",
            "articles/bcrb/2024-01-31/02/",
        ]
        assert archive.exists(written[0]) and not archive.exists(written[0] + "x")
        with pytest.raises(ObjectNotFound, match="nope.json"):
            archive.stat("nope.json")
        with pytest.raises(ObjectNotFound, match="nope.json"):
            archive.get("nope.json")
        with pytest.raises(ObjectNotFound):
            archive.get(written[0], version_id="0" * 32)
        assert archive.versions("nope.json") == []
        with pytest.raises(ValueError, match="bad object key"):
            archive.put("../escape", b"x")


def test_existing_bucket_without_versioning_is_refused(s3_server):
    endpoint, access_key, secret_key = s3_server
    client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=False)
    client.make_bucket("plain-bucket")
    client.make_bucket("suspended-bucket")
    client.set_bucket_versioning("suspended-bucket", VersioningConfig(SUSPENDED))
    for bucket in ("plain-bucket", "suspended-bucket"):
        with pytest.raises(ArchiveError, match=f"bucket '{bucket}' .* versioning"):
            Archive(endpoint, access_key, secret_key, bucket=bucket)
        assert list(client.list_objects(bucket, recursive=True)) == []


def test_anonymous_reads_are_refused_but_presigned_urls_work(archive_env):
    key = keys.edition_manifest("bcrb", "2024-01-31")
    with open_archive() as archive:
        archive.put(key, b"{}", "application/json")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://{archive.endpoint}/{archive.bucket}/{key}", timeout=10)
        assert refused.value.code == 403
        with urllib.request.urlopen(
            archive.presign(key, expires=timedelta(minutes=5)), timeout=10
        ) as response:
            assert response.read() == b"{}"


def test_unreachable_server_fails_fast_with_one_clear_line(monkeypatch, tmp_path):
    port = next(p for p in range(47001, 48000) if port_is_free(p))
    monkeypatch.setenv("EPAPER_S3_ENDPOINT", f"127.0.0.1:{port}")
    monkeypatch.setenv("EPAPER_S3_ACCESS_KEY", "AKIDUNREACHABLE")
    monkeypatch.setenv("EPAPER_S3_SECRET_KEY", "secret-never-shown")
    monkeypatch.setenv("EPAPER_HOME", str(tmp_path))
    started = time.monotonic()
    with pytest.raises(ArchiveUnavailable) as failure:
        with open_archive():
            pass
    assert time.monotonic() - started < 15
    message = str(failure.value)
    assert (
        message.startswith(f"S3 at 127.0.0.1:{port} unreachable: ")
        and "Connection refused" in message
    )
    assert "\n" not in message and "secret-never-shown" not in message
    assert not (tmp_path / "s3").exists()  # an endpoint was given: no embedded server


@pytest.mark.parametrize("wrong", ["secret", "access_key"])
def test_wrong_credentials_name_the_endpoint_and_key_id_but_not_the_secret(s3_server, wrong):
    endpoint, access_key, secret_key = s3_server
    if wrong == "secret":
        access_key, secret_key = access_key, "wrong-secret-0123456789"
    else:
        access_key = "AKIDWHODIS"
    with pytest.raises(ArchiveAuthError) as failure:
        Archive(endpoint, access_key, secret_key, bucket="auth-check", tries=1)
    message = str(failure.value)
    assert endpoint in message and access_key in message and "\n" not in message
    assert secret_key not in "".join(traceback.format_exception(failure.value))


def test_credentials_never_appear_in_reprs(archive_env):
    with open_archive() as archive:
        text = repr(archive) + str(archive) + repr(vars(archive))
    assert archive_env["EPAPER_S3_SECRET_KEY"] not in text


def test_open_archive_without_endpoint_runs_embedded_server_shared_by_nested_calls(
    monkeypatch, tmp_path
):
    for name in (
        "EPAPER_S3_ENDPOINT",
        "EPAPER_S3_ACCESS_KEY",
        "EPAPER_S3_SECRET_KEY",
        "EPAPER_S3_BUCKET",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EPAPER_HOME", str(tmp_path))
    key = keys.edition_manifest("bcrb", "2024-01-31")
    with open_archive() as outer:
        endpoint = os.environ["EPAPER_S3_ENDPOINT"]
        assert outer.endpoint == endpoint and outer.bucket == "epaper-archive"
        outer.put(key, b"kept")
        with open_archive() as inner:
            assert inner.endpoint == endpoint and inner.get(key) == b"kept"
        assert os.environ["EPAPER_S3_ENDPOINT"] == endpoint  # still the outer one's
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from storage.archive import open_archive\n"
                f"with open_archive() as a: print(a.endpoint, a.get({key!r}).decode())",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert child.stdout.split() == [endpoint, "kept"], child.stderr
    assert "EPAPER_S3_ENDPOINT" not in os.environ and "EPAPER_S3_SECRET_KEY" not in os.environ
    assert port_is_free(int(endpoint.rsplit(":", 1)[1]))
    with open_archive() as again:  # same EPAPER_HOME: same keys, same data
        assert again.get(key) == b"kept"


# -- the embedded server ---------------------------------------------------------------


def test_embedded_server_stops_without_leaving_anything_behind(tmp_path, capfd):
    with EmbeddedS3(tmp_path / "s3") as server:
        pid, ports = server.pid, dict(server.ports)
        assert server.endpoint == f"127.0.0.1:{ports['s3']}"
        assert os.getpgid(pid) == pid  # its own process group
        Minio(
            server.endpoint,
            access_key=server.access_key,
            secret_key=server.secret_key,
            secure=False,
        ).list_buckets()
        assert server.secret_key not in repr(server)
    assert server.endpoint is None and not alive(pid)
    assert all(port_is_free(p) and port_is_free(p + GRPC_OFFSET) for p in ports.values())
    assert not [
        p for p in Path("/tmp").glob("seaweedfs-*.sock") if str(ports["s3"] + GRPC_OFFSET) in p.name
    ]
    out, err = capfd.readouterr()
    assert "SeaweedFS" not in out + err  # weed talks to its log file, not the terminal
    assert "SeaweedFS" in (tmp_path / "s3" / "weed.log").read_text()


def test_credentials_and_data_survive_restart(tmp_path):
    data_dir = tmp_path / "s3"
    with EmbeddedS3(data_dir) as server:
        credentials = server.access_key, server.secret_key
        Archive(server.endpoint, *credentials, bucket="survivor").put("k", b"data")
        with pytest.raises(EmbeddedS3Error, match="in use"):
            EmbeddedS3(data_dir).start()  # a second weed on one directory would corrupt it
    assert stat.S_IMODE((data_dir / "s3.json").stat().st_mode) == 0o600
    with EmbeddedS3(data_dir) as server:
        assert (server.access_key, server.secret_key) == credentials
        archive = Archive(server.endpoint, *credentials, bucket="survivor")
        assert archive.get("k") == b"data" and not archive.put("k", b"data").changed


def test_start_timeout_reports_the_log_and_leaves_no_process(tmp_path):
    server = EmbeddedS3(tmp_path / "s3")
    with pytest.raises(EmbeddedS3Error, match="was not ready") as failure:
        server.start(timeout=0)
    assert str(server.log_path) in str(failure.value)
    assert server.pid is None and not server.running


def test_weed_failing_at_start_is_reported_with_its_log(tmp_path):
    data_dir = tmp_path / "s3"
    data_dir.mkdir()
    (data_dir / "filerldb2").write_text("not a directory")  # the filer store cannot open
    with pytest.raises(EmbeddedS3Error, match="exited during start-up") as failure:
        EmbeddedS3(data_dir).start()
    assert "filerldb2" in str(failure.value)


OWNER = """
import sys, time
from storage.s3server import EmbeddedS3
server = EmbeddedS3(sys.argv[1])
server.start()
print(server.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize(
    "signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name
)
def test_weed_dies_with_its_owner(tmp_path, signum):
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path / "s3")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        weed_pid = int(owner.stdout.readline())
        assert alive(weed_pid)
        owner.send_signal(signum)
        owner.wait(timeout=30)
        assert wait_until(lambda: not alive(weed_pid), timeout=20)
        remove_stale_sockets(json.loads((tmp_path / "s3" / "ports.json").read_text()))
    finally:
        owner.kill()
        owner.wait()
    if signum == signal.SIGTERM:
        assert owner.returncode == -signal.SIGTERM  # the owner still dies of SIGTERM
