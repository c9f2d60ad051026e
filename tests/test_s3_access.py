"""The archive as users reach it: boto3 (a second, independent S3 client), presigned URLs
from `epaper presign`, anonymous requests refused; and S3 failing in the middle of a publish."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date

import boto3
import pytest
import yaml
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from warcio.archiveiterator import ArchiveIterator

from flows import steps
from papers.catalogue import get_paper
from papers.workdir import Workdir, read_jsonl, write_jsonl
from storage.archive import Archive, ArchiveUnavailable, open_archive
from storage.catalog import Catalog
from tests.fixtures.tcp_proxy import TcpProxy

DAY = date(2025, 4, 28)


@pytest.fixture(scope="module")
def crawled(replica_server, replica_sites, tmp_path_factory):
    """(workdir, stats): one replica edition crawled, cleaned and deduped, ready to publish."""
    site = next(s for s in replica_sites if s.paper == "bcrb")
    root = tmp_path_factory.mktemp("crawled")
    papers = root / "papers.yaml"
    papers.write_text(
        yaml.safe_dump([site.paper_entry(replica_server.base_url)], allow_unicode=True),
        encoding="utf-8",
    )
    workdir = root / "work"
    stats = steps.crawl_edition(get_paper(site.paper, str(papers)), DAY, workdir)
    steps.clean_edition(workdir)
    steps.dedupe_edition(workdir, Catalog(f"sqlite:///{root / 'catalog.sqlite'}"))
    return workdir, stats


def publish(workdir, stats, archive: Archive) -> dict:
    return steps.publish_edition(workdir, archive, "bcrb", DAY.isoformat(), stats)


def boto3_client(env: dict, **config) -> "boto3.client":
    """An S3 client configured as docs/s3-access.md tells users to."""
    return boto3.client(
        "s3",
        endpoint_url=f"http://{env['EPAPER_S3_ENDPOINT']}",
        region_name="us-east-1",
        aws_access_key_id=env["EPAPER_S3_ACCESS_KEY"],
        aws_secret_access_key=env["EPAPER_S3_SECRET_KEY"],
        config=Config(s3={"addressing_style": "path"}, **config),
    )


def test_boto3_reads_the_layout_versions_and_warc(crawled, archive_env, tmp_path):
    workdir, stats = crawled
    with open_archive() as archive:
        first = publish(workdir, stats, archive)
        # The same edition with one article's title corrected: a second version of its key.
        changed = tmp_path / "work"
        shutil.copytree(workdir, changed)
        articles = list(read_jsonl(changed / Workdir.DEDUPED))
        old_title = articles[0]["title"]
        articles[0]["title"] += "（更正）"
        write_jsonl(changed / Workdir.DEDUPED, articles)
        publish(changed, stats, archive)

    s3, bucket = boto3_client(archive_env), archive_env["EPAPER_S3_BUCKET"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="editions/")
    assert [o["Key"] for page in pages for o in page["Contents"]] == [
        f"editions/bcrb/{DAY}/manifest.json"
    ]
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"editions/bcrb/{DAY}/manifest.json")["Body"].read()
    )
    for listed in manifest["articles"]:
        obj = s3.get_object(Bucket=bucket, Key=listed["key"], VersionId=listed["version_id"])
        data = obj["Body"].read()
        assert json.loads(data)["url"] == listed["url"]
        assert obj["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()

    key = articles[0]["key"]
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert [v["IsLatest"] for v in versions] == [True, False]
    oldest = s3.get_object(Bucket=bucket, Key=key, VersionId=versions[1]["VersionId"])[
        "Body"
    ].read()
    assert json.loads(oldest)["title"] == old_title
    assert (
        next(a for a in first["articles"] if a["key"] == key)["version_id"]
        == versions[1]["VersionId"]
    )

    warc = s3.get_object(Bucket=bucket, Key=manifest["crawl"]["warc_key"])["Body"]
    uris = {
        r.rec_headers.get_header("WARC-Target-URI")
        for r in ArchiveIterator(warc)
        if r.rec_type == "response"
    }
    assert {a["url"] for a in manifest["articles"]} <= uris


def presign(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "epaper.cli", "presign", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_presigned_urls_work_until_they_expire_and_anonymous_requests_are_refused(archive_env):
    key, data = f"editions/bcrb/{DAY}/manifest.json", b'{"paper": "bcrb"}'
    with open_archive() as archive:
        archive.put(key, data, "application/json")

    run = presign(key, "--expires", "60")
    assert run.returncode == 0, run.stderr
    with urllib.request.urlopen(run.stdout.strip(), timeout=10) as response:
        assert response.read() == data
    with pytest.raises(urllib.error.HTTPError) as tampered:
        urllib.request.urlopen(
            run.stdout.strip().replace("manifest.json", "other.json"), timeout=10
        )
    assert tampered.value.code == 403

    short = presign(key, "--expires", "1")
    time.sleep(2)
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(short.stdout.strip(), timeout=10)
    assert expired.value.code == 403

    missing = presign("editions/bcrb/2025-01-01/manifest.json")
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.startswith(
        "epaper: error: no object 'editions/bcrb/2025-01-01/manifest.json'"
    )

    anonymous, bucket = (
        boto3_client(archive_env, signature_version=UNSIGNED),
        archive_env["EPAPER_S3_BUCKET"],
    )
    for call in (
        lambda: anonymous.get_object(Bucket=bucket, Key=key),
        lambda: anonymous.list_objects_v2(Bucket=bucket),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


class S3Outage(TcpProxy):
    """A TCP relay to the S3 server that fails as a network or S3 outage would: after
    `puts` PUT requests it refuses new connections and drops each connection that sends
    one more PUT. The PUTs let through finish, however many run at once (publish writes
    in parallel), so exactly `puts` objects are written."""

    def __init__(self, upstream: str, puts: int):
        super().__init__(upstream)
        self.puts_left = puts

    def request(self, data: bytes, conn: dict) -> bool:
        if not data.count(b"PUT /"):
            return True
        with self.lock:
            self.puts_left -= data.count(b"PUT /")
            self.down = self.down or self.puts_left < 0
            return self.puts_left >= 0


def test_s3_failing_mid_publish_hides_the_edition_and_a_rerun_completes_it(crawled, archive_env):
    workdir, stats = crawled
    with open_archive() as archive:  # the versioned bucket exists before the outage
        outage = S3Outage(archive.endpoint, puts=3)
        try:
            flaky = Archive(
                outage.endpoint,
                archive_env["EPAPER_S3_ACCESS_KEY"],
                archive_env["EPAPER_S3_SECRET_KEY"],
                bucket=archive.bucket,
                tries=3,
                backoff=0.1,
            )
            with pytest.raises(
                ArchiveUnavailable,
                match=rf"S3 at {outage.endpoint} unreachable: .*got no answer either",
            ):
                publish(workdir, stats, flaky)
        finally:
            outage.close()

        written = list(archive.list())
        assert len(written) == 3, written
        assert not [k for k in written if k.startswith("editions/")], (
            "no manifest: the edition is not visible"
        )
        result = publish(workdir, stats, archive)
        versions = {key: len(archive.versions(key)) for key in archive.list()}
    assert result["changed"] and f"editions/bcrb/{DAY}/manifest.json" in versions
    assert {a["key"] for a in result["articles"]} <= set(versions)
    assert set(versions.values()) == {1}, "the re-run added no duplicate versions"
