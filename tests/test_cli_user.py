"""What a new user meets: the demo and what it suggests, the replica command, the archive a
command used, and the CLI's help. Real CLI processes, real SeaweedFS, real Prefect."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from datetime import date
from pathlib import Path

import pytest
import yaml

from epaper.report import summary
from flows.archive import archive_edition
from replica import ReplicaServer, build_site
from replica.labelled_dedupe import stories
from storage.archive import open_archive
from storage.catalog import Catalog
from tests.fixtures.edition import epaper, error_line
from tests.test_dedupe import catalog_url, new_pg_url  # noqa: F401  (SQLite and PostgreSQL)
from text.dedupe import fingerprint, overlap

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2025, 4, 28)


def user_env(tmp_path: Path) -> dict[str, str]:
    """A user's environment: no EPAPER_* variables (embedded S3, default home), a data
    folder of their own, the session's Prefect API."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("EPAPER_")}
    return {
        **env,
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "EPAPER_DOWNLOAD_DELAY": "0",
        "PREFECT_API_URL": PREFECT_API_URL.value(),
    }


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "epaper.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
        check=False,
    )


def suggested_commands(demo_output: str) -> list[list[str]]:
    """The commands under the demo summary's `look:` heading."""
    block = demo_output.split("\nlook:", 1)[1]
    commands = []
    for line in block.splitlines():
        if re.match(r"^\w+:", line.strip()) and commands:
            break  # the next heading
        command = line.strip().removeprefix(":").strip()
        if command.startswith("epaper "):
            commands.append(shlex.split(command)[1:])
    return commands


def test_demo_then_every_command_it_suggests_works_from_another_folder(prefect_api, tmp_path):
    env = user_env(tmp_path)
    demo = run_cli(["demo"], env, tmp_path / "one-folder")
    assert demo.returncode == 0, demo.stderr
    home = tmp_path / "xdg" / "epaper"
    assert (home / "demo-papers.yaml").exists() and (home / "s3").is_dir(), (
        "the default home, not ./.epaper"
    )
    assert not (tmp_path / "one-folder" / ".epaper").exists()
    assert "1 reprints" not in demo.stdout and re.search(r"\b1 reprint\b", demo.stdout)

    commands = suggested_commands(demo.stdout)
    assert {c[0] for c in commands} >= {"ls", "show", "versions", "cluster", "reprocess"}, commands
    elsewhere = tmp_path / "another-folder"
    for args in commands:
        run = run_cli(args, env, elsewhere)
        assert run.returncode == 0, (args, run.stderr)
        assert run.stdout.strip() and "epaper: error" not in run.stderr, (
            args,
            run.stdout,
            run.stderr,
        )
        paper = args[1].split("/")[1] if "/" in args[1] else args[1]
        assert paper.startswith("demo-"), args
        if args[0] == "show":
            assert json.loads(run.stdout)["paper"] == paper
        elif args[0] == "versions":
            assert "latest" in run.stdout
        elif args[0] == "cluster":  # the reprint evidence (docs/reprints.md)
            lines = run.stdout.splitlines()
            assert lines[0].startswith(f"story {args[1]}: ") and args[1] in lines[1], (
                "the suggested story, its earliest copy first"
            )
            assert any(line.startswith(("0.", "1.")) for line in lines[3:]), "and its reprints"
        else:
            assert paper in run.stdout, (args, run.stdout)
        if args[0] == "reprocess":  # offline, from the demo's own WARC: same output, nothing new
            assert "unchanged" in run.stdout, run.stdout

    # The catalogue's real papers of the same names hold nothing of the demo's.
    real = run_cli(["ls", "bcrb"], env, elsewhere)
    assert real.returncode == 0 and real.stdout == ""
    assert f"no editions of bcrb in {home}" in real.stderr
    unknown = run_cli(["ls", "nopaper"], env, elsewhere)
    assert unknown.returncode == 1 and "unknown paper 'nopaper'" in error_line(unknown)
    assert str(home) in error_line(unknown)


def test_ls_says_which_archive_it_read_and_refuses_an_unknown_paper(archive_env, prefect_api):
    empty = epaper("ls")
    assert empty.returncode == 0 and empty.stdout == ""
    assert (
        f"no editions in bucket {archive_env['EPAPER_S3_BUCKET']!r} "
        f"at {archive_env['EPAPER_S3_ENDPOINT']}" in empty.stderr
    )
    for args in (["ls", "nopaper"], ["ls", "nopaper", "2025-04-28"]):
        run = epaper(*args)
        assert run.returncode == 1 and "unknown paper 'nopaper'" in error_line(run), run.stderr
    known = epaper("ls", "whb")  # in papers.yaml, nothing archived
    assert known.returncode == 0 and "no editions of whb" in known.stderr


class Lines:
    """A process's stdout lines, read in a thread so that a silent process fails the test."""

    def __init__(self, process: subprocess.Popen):
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [self._lines.put(line) for line in process.stdout], daemon=True
        ).start()

    def until(self, start: str, timeout: float = 120) -> list[str]:
        seen = []
        while True:
            seen.append(self._lines.get(timeout=timeout))
            if seen[-1].startswith(start):
                return seen


def test_replica_command_serves_until_sigint_with_a_papers_file(archive_env, prefect_api, tmp_path):
    papers = tmp_path / "out" / "replica.yaml"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "epaper.cli",
            "replica",
            "--port",
            "0",
            "--family",
            "founder-new",
            "--papers-out",
            str(papers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = Lines(process)
    try:
        lines = output.until("try:")
        base_url = re.search(r"on (http://127\.0\.0\.1:\d+) until Ctrl-C", lines[0]).group(1)
        entries = {e["id"]: e for e in yaml.safe_load(papers.read_text(encoding="utf-8"))}
        assert set(entries) == {"replica-bcrb", "replica-shrb"}, (
            "the founder-new sites, ids of their own"
        )
        assert any(f"--papers {papers}" in line for line in lines)
        page_url = entries["replica-bcrb"]["edition_url"].format(date=DAY)
        assert page_url.startswith(base_url)
        with urllib.request.urlopen(page_url, timeout=10) as response:
            assert response.status == 200 and "<title>白城日报 - 01版" in response.read().decode(
                "utf-8"
            )

        run = epaper(
            "archive",
            "replica-bcrb",
            "--date",
            DAY.isoformat(),
            "--papers",
            str(papers),
            EPAPER_DOWNLOAD_DELAY="0",
        )
        assert run.returncode == 0, run.stderr
        assert "archived -> editions/replica-bcrb/2025-04-28/manifest.json" in run.stdout
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0, process.stderr.read()
    assert output.until("replica: stopped", timeout=5)
    port = int(base_url.rsplit(":", 1)[1])
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


def test_help_describes_the_arguments_and_points_to_a_shipped_architecture_md():
    def help_of(*args: str) -> str:
        run = subprocess.run(
            [sys.executable, "-m", "epaper.cli", *args, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        return " ".join(run.stdout.split())

    top = help_of()
    pointer = re.search(r"(docs/architecture\.md)", top).group(1)
    assert (ROOT / pointer).exists()
    assert "EPAPER_HOME" in top and "~/.local/share/epaper" in top
    ls = help_of("ls")
    assert "paper id" in ls and "YYYY-MM-DD" in ls
    for command in ("show", "cluster", "presign", "versions"):
        assert "articles/<paper>/<date>/<page>/<id>.json" in help_of(command), command
    assert "--version-id" in help_of("presign")
    replica = help_of("replica")
    assert all(option in replica for option in ("--family", "--port", "--papers-out", "Ctrl-C"))


def test_one_reprint_is_singular():
    result = {
        "paper": "whb",
        "date": "2025-04-28",
        "status": "complete",
        "changed": True,
        "key": "editions/whb/2025-04-28/manifest.json",
        "pages": [{}],
        "articles": [{"key": "a", "cluster": "a"}, {"key": "b", "cluster": "a"}],
    }
    assert summary(result) == (
        "whb 2025-04-28: 1 page, 2 articles, 1 reprint, archived -> "
        "editions/whb/2025-04-28/manifest.json"
    )


@pytest.fixture
def two_papers(archive_env, prefect_api, tmp_path, monkeypatch):
    """Two replica papers reprinting each other's wire stories, archived; their site and results."""
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    sites = [
        build_site("founder-new", "bcrb", [DAY], skin="swiper"),
        build_site("founder-new", "shrb", [DAY], skin="chunkicon", node="A01", content_dir="con"),
    ]
    with ReplicaServer(sites) as server:
        path = tmp_path / "papers.yaml"
        path.write_text(
            yaml.safe_dump([s.paper_entry(server.base_url) for s in sites], allow_unicode=True),
            encoding="utf-8",
        )
        results = [archive_edition(s.paper, DAY.isoformat(), str(path)) for s in sites]
        yield sites, results, str(path)  # the server still runs


def test_cluster_shows_titles_and_presign_signs_an_older_version(two_papers):
    sites, results, papers = two_papers
    reprint = next(a for a in results[1]["articles"] if a["cluster"] != a["key"])
    run = epaper("cluster", reprint["key"])
    assert run.returncode == 0, run.stderr
    with open_archive() as archive:
        titles = {
            k: json.loads(archive.get(k))["title"] for k in (reprint["key"], reprint["cluster"])
        }
    lines = run.stdout.splitlines()  # the reprint evidence (docs/reprints.md)
    assert lines[1].startswith("earliest") and lines[1].endswith(reprint["cluster"])
    assert lines[2].strip() == titles[reprint["cluster"]]
    assert any(line.endswith("  " + reprint["key"]) for line in lines[3:])
    evidence = json.loads(epaper("cluster", reprint["key"], "--format", "json").stdout)
    copy = next(c for c in evidence["copies"] if c["key"] == reprint["key"])
    assert (copy["title"], evidence["canonical"]["title"]) == (
        titles[reprint["key"]],
        titles[reprint["cluster"]],
    )

    site = sites[0]
    target = next(a for a in site.truth(DAY)["articles"] if a["kind"] == "news" and not a["hidden"])
    key = next(a["key"] for a in results[0]["articles"] if a["url"].endswith(target["url"]))
    old_version = next(a["version_id"] for a in results[0]["articles"] if a["key"] == key)
    site.edit_article(DAY, target["url"], target["paragraphs"] + ["本报将继续关注此事进展。"])
    assert archive_edition(site.paper, DAY.isoformat(), papers)["changed"]

    def fetched(*args: str) -> dict:
        run = epaper("presign", key, *args)
        assert run.returncode == 0, run.stderr
        with urllib.request.urlopen(run.stdout.strip(), timeout=10) as response:
            return json.loads(response.read())

    assert fetched("--version-id", old_version)["paragraphs"] == target["paragraphs"]
    assert fetched()["paragraphs"][-1] == "本报将继续关注此事进展。"
    bad = epaper("presign", key, "--version-id", "no-such-version")
    assert bad.returncode == 1 and key in error_line(bad)


def test_a_corrected_canonical_stays_canonical_measured_by_its_new_text(catalog_url):  # noqa: F811
    wire = "\n".join(stories()["xinhua-ai-study"])
    reprint = "新华社北京4月26日电\n" + wire.replace("，", ",")
    exact = wire
    corrected = wire + "\n（更正：此前报道中的数据有误，现已更正。）"
    with Catalog(catalog_url) as catalog:
        catalog.assign("a/1", "bcrb", "2025-04-27", wire)
        catalog.assign("a/2", "jlrb", "2025-04-27", reprint)
        assert catalog.assign("a/3", "whb", "2025-04-28", exact)["exact"]
        record = catalog.assign("a/1", "bcrb", "2025-04-27", corrected)
        assert record == {"cluster": "a/1", "canonical": "a/1", "similarity": 1.0, "exact": False}
        members = {m["key"]: m for m in catalog.cluster_of("a/2")}
        assert list(members) == ["a/1", "a/2", "a/3"]
        assert {m["canonical"] for m in members.values()} == {"a/1"}
        new = fingerprint(corrected).shingles
        for key, text in (("a/2", reprint), ("a/3", exact)):
            measured = round(overlap(new, fingerprint(text).shingles).jaccard, 4)
            assert members[key]["similarity"] == measured < 1.0, key
        # a later reprint of the corrected text joins the same cluster
        assert catalog.assign("a/4", "nxrb", "2025-04-29", corrected)["cluster"] == "a/1"


def test_a_deployment_run_uses_the_same_default_home_as_the_cli(monkeypatch, tmp_path):
    from epaper import deployments

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("EPAPER_HOME", "restored-after-the-test")
    monkeypatch.delenv("EPAPER_HOME")
    monkeypatch.chdir(tmp_path)  # where a process worker starts a flow run
    deployments.enter_project()
    assert os.environ["EPAPER_HOME"] == str(tmp_path / "xdg" / "epaper")
    monkeypatch.setenv("EPAPER_HOME", str(tmp_path / "worker"))  # a worker's own setting wins
    deployments.enter_project()
    assert os.environ["EPAPER_HOME"] == str(tmp_path / "worker")
