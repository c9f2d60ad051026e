"""Security: secrets stay secret, site data cannot steer object keys, site XML cannot
expand, and the crawl process opens no code server.

(Anonymous reads refused while presigned URLs work, and the key checks themselves, are in
tests/test_storage.py.)
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import yaml
from parsel import Selector

from flows.archive import archive_edition
from papers.ids import article_id_of_url
from replica import ReplicaServer, build_site
from replica.faults import billion_laughs
from spiders.crawl import CrawlError, run_crawl
from storage import keys
from storage.archive import ArchiveAuthError, open_archive

DAY = date(2025, 4, 28)
ROOT = Path(__file__).resolve().parent.parent
CATALOG_PASSWORD = "Catalog-Pa55-" + "x7Q2"
WRONG_SECRET = "Wrong-Secret-" + "k9Z4"


def cli(tmp_path: Path, name: str, *args: str, **env: str) -> subprocess.Popen:
    from prefect.settings import PREFECT_API_URL

    return subprocess.Popen(
        [sys.executable, "-m", "epaper.cli", *args],
        stdout=open(tmp_path / f"{name}.out", "w"),
        stderr=open(tmp_path / f"{name}.err", "w"),
        env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **env},
    )


def everything_prefect_holds() -> list[tuple[str, str]]:
    """(where, text) for every log line, artifact and flow-run state of the Prefect server."""
    from prefect.client.orchestration import get_client

    found = []
    with get_client(sync_client=True) as client:
        for offset in range(0, 100_000, 200):
            logs = client.read_logs(limit=200, offset=offset)
            found += [(f"log of flow run {log.flow_run_id}", log.message) for log in logs]
            if len(logs) < 200:
                break
        for offset in range(0, 100_000, 200):
            artifacts = client.read_artifacts(limit=200, offset=offset)
            found += [(f"artifact {a.key}", f"{a.data} {a.description}") for a in artifacts]
            if len(artifacts) < 200:
                break
        for offset in range(0, 100_000, 200):
            runs = client.read_flow_runs(limit=200, offset=offset)
            found += [
                (f"flow run {r.name}", f"{r.state.message if r.state else ''} {r.parameters}")
                for r in runs
            ]
            if len(runs) < 200:
                break
    return found


def everything_in_the_bucket() -> list[tuple[str, bytes]]:
    out = []
    with open_archive() as archive:
        for key in archive.list():
            for version in archive.versions(key):
                data = archive.get(key, version_id=version["version_id"])
                out.append(
                    (
                        f"{key}@{version['version_id']}",
                        gzip.decompress(data) if key.endswith(".gz") else data,
                    )
                )
    return out


def everything_on_disk(home: Path) -> list[tuple[str, bytes]]:
    out = []
    for path in home.rglob("*"):
        if path.is_file() and "s3" not in path.relative_to(home).parts[:1]:
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            out.append((str(path.relative_to(home)), data))
    return out


def test_credentials_never_appear_in_logs_manifests_artifacts_or_errors(
    archive_env, prefect_api, tmp_path, monkeypatch, fault_report
):
    secret = archive_env["EPAPER_S3_SECRET_KEY"]
    secrets = {
        "S3 secret key": secret,
        "catalog password": CATALOG_PASSWORD,
        "a wrong S3 secret": WRONG_SECRET,
    }
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", "bcrb", [DAY], pages=2)
    with ReplicaServer([site]) as server:
        papers = tmp_path / "papers.yaml"
        papers.write_text(
            yaml.safe_dump([site.paper_entry(server.base_url)], allow_unicode=True),
            encoding="utf-8",
        )
        args = ("archive", "bcrb", "--date", DAY.isoformat(), "--papers", str(papers))
        runs = {
            "good": cli(tmp_path, "good", *args),
            "catalog": cli(
                tmp_path,
                "catalog",
                *args,
                EPAPER_CATALOG_URL=(f"postgresql://epaper:{CATALOG_PASSWORD}@127.0.0.1:9/catalog"),
            ),
        }
        codes = {name: proc.wait(300) for name, proc in runs.items()}
        monkeypatch.setenv("EPAPER_S3_SECRET_KEY", WRONG_SECRET)
        with pytest.raises(ArchiveAuthError) as refused:
            archive_edition("bcrb", DAY.isoformat(), str(papers))
        monkeypatch.setenv("EPAPER_S3_SECRET_KEY", secret)
    assert codes == {"good": 0, "catalog": 1}, [
        (tmp_path / f"{n}.err").read_text()[-2000:] for n in runs
    ]

    places: list[tuple[str, bytes]] = []
    for name in runs:
        for stream in ("out", "err"):
            places.append((f"CLI {name} std{stream}", (tmp_path / f"{name}.{stream}").read_bytes()))
    import traceback

    places.append(
        (
            "exception of the refused run",
            "".join(traceback.format_exception(refused.value)).encode(),
        )
    )
    places += [(where, text.encode()) for where, text in everything_prefect_holds()]
    places += everything_in_the_bucket()
    places += everything_on_disk(Path(archive_env["EPAPER_HOME"]))
    assert any(where.startswith("editions/") for where, _ in places), (
        "the good run's manifest is searched"
    )
    assert any(where.endswith("crawl.log") for where, _ in places), (
        "the failed run's crawl files are searched"
    )
    leaks = [
        (what, where)
        for where, data in places
        for what, value in secrets.items()
        if value.encode() in data
    ]
    assert not leaks
    fault_report.row(
        "Credentials: a good run, a run whose catalog URL carries a password, a run with a wrong "
        "S3 secret",
        f"searched {len(places)} places: CLI output, Prefect logs, artifacts and flow-run states, "
        "every object version in the bucket (WARCs unpacked), every work file and the exception",
        "no secret key or password anywhere (the catalog URL is shown as `***`)",
    )


def test_the_crawl_process_runs_no_remote_code_server(tmp_path, monkeypatch, fault_report):
    """Scrapy 2.19 starts a 'remote control' HTTP server that runs posted Python code,
    with the crawl's whole environment (S3 keys included) in reach. It must stay off."""
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", "bcrb", [DAY], pages=2)
    with ReplicaServer([site]) as server:
        run_crawl(
            "bcrb", DAY.isoformat(), site.family, server.base_url + site.url_for(DAY), str(tmp_path)
        )
    log = (tmp_path / "crawl.log").read_text(encoding="utf-8")
    assert "RemoteControl" not in log and "Remote control" not in log
    assert "TelnetConsole" not in log
    fault_report.row(
        "A code-execution server inside the crawl (Scrapy 2.19's remote control)",
        "disabled (REMOTE_CONTROL_ENABLED = False), as the telnet console",
        "nothing listens while hostile pages are parsed",
    )


HOSTILE = [
    "http://h/pc/content/202504/28/..%2F..%2F..%2Fetc%2Fpasswd.html",
    "http://h/pc/content/202504/28/content_1%0d%0aX-Evil:%201.html",
    "http://h/pc/content/202504/28/%00.html",
    "http://h/pc/content/202504/28/.html",
    "http://h/pc/content/202504/28/" + "A" * 400 + ".html",
    "http://h/pc/content/202504/28/内容\u202e\u0007.html",
    "http://h/../../../x.html",
    "http://h/pc/content/202504/28/content_1.html?id=../../x",
    "http://h/C:\\Windows\\x.html",
    # these two: "__" both, once: one overwrote the other
    "http://h/pc/content/202504/28/新闻.html",
    "http://h/pc/content/202504/28/内容.html",
]


def test_object_keys_from_hostile_urls_stay_in_their_prefix(fault_report):
    made = set()
    for url in HOSTILE:
        key = keys.article(
            "bcrb", DAY, 1, article_id_of_url(url)
        )  # the spider's id, then the archive's key
        assert keys.check_key(key) == key, url
        assert key.startswith("articles/bcrb/2025-04-28/01/") and key.count("/") == 4, url
        assert (
            ".." not in key and not re.search(r"[\x00-\x1f\x7f\\\u202e]", key) and len(key) < 200
        ), url
        made.add(key)
    assert len(made) == len(HOSTILE), "two hostile names share a key: one would overwrite the other"
    fault_report.row(
        "Article URLs that try to steer object keys (`..%2F`, CR LF, NUL, RTL override, "
        "backslashes, 400 characters)",
        "the spider's article id keeps [A-Za-z0-9_-], plus a hash where it had to drop characters; "
        "the key functions check the rest",
        "every key stays under articles/<paper>/<date>/<page>/, relative, printable, short, and "
        "distinct names keep distinct keys",
    )


def test_site_xml_is_never_expanded(tmp_path, monkeypatch, fault_report):
    """A billion-laughs document: as period.xml, and as the edition page itself."""
    bomb = billion_laughs()
    site = build_site(
        "founder-new",
        "bcrb",
        [DAY],
        pages=2,
        faults={"/bcrb/pc/layout/202504/period.xml": "xml_bomb", "edition": "xml_bomb"},
    )
    assert site.resolve("/bcrb/pc/layout/202504/period.xml", "h").body == bomb
    started = time.monotonic()
    # how the spiders read XML (Scrapy's selectors): entities are left unexpanded
    dates = Selector(body=bomb, type="xml").xpath("//period_date").getall()
    assert len("".join(dates)) < 1000 and time.monotonic() - started < 5
    # the edition page answering with the bomb: the crawl ends at once, saying it found no
    # edition page
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    with (
        ReplicaServer([site]) as server,
        pytest.raises(CrawlError, match="no pages or articles found"),
    ):
        run_crawl(
            "bcrb",
            DAY.isoformat(),
            site.family,
            server.base_url + site.url_for(DAY),
            str(tmp_path),
            timeout=120,
        )
    fault_report.row(
        "Billion-laughs XML (as period.xml, and as the edition page)",
        "parsel's SafeXMLParser (resolve_entities=False): entities stay unexpanded; the crawl "
        "fails at once with `no pages or articles found`",
        "no memory blow-up, no hang",
    )


UNSAFE_XML = re.compile(
    r"\b(xml\.etree|xml\.dom|xml\.sax|minidom|pulldom|xmlrpc|lxml\.etree\.(fromstring|parse|XML)\b"
    r"|etree\.XMLParser\((?![^)]*resolve_entities=False))"
)


def test_no_project_code_parses_xml_unsafely():
    """Site XML goes through parsel (safe) or defusedxml; the standard library's XML
    parsers, and lxml's without resolve_entities=False, are not used on it anywhere."""
    offenders = []
    for folder in ("spiders", "flows", "storage", "epaper"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            offenders += [
                f"{path.relative_to(ROOT)}: {m.group(0)}" for m in UNSAFE_XML.finditer(text)
            ]
    assert not offenders
