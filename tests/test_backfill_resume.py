"""A backfill one can leave running for days (flows/backfill.py), with real Prefect runs against
replica sites: a range with no editions, a site that goes down midway (its server stopped
mid-backfill) and a second run that completes only what is missing, without a request for
what is archived; the catalog's PostgreSQL stopped and started again midway; Ctrl-C at the
terminal leaves no half edition and the next run resumes."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from epaper.demo import write_papers_file
from replica import ReplicaServer, build_site
from storage import keys
from storage.archive import open_archive

DAYS = [dt.date(2025, 4, 20) + dt.timedelta(days=n) for n in range(4)]
PREFIX = "resume-"  # ids of our own, never the catalogue's


@pytest.fixture
def env(archive_env, prefect_api, monkeypatch, tmp_path):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    monkeypatch.setenv("EPAPER_HOME", str(tmp_path / "home"))
    return tmp_path


def manifest(paper: str, day: dt.date) -> dict | None:
    with open_archive() as archive:
        key = keys.edition_manifest(paper, day.isoformat())
        return json.loads(archive.get(key)) if archive.exists(key) else None


def artifacts_of(state):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )


def began(site, replica, day: dt.date) -> bool:
    """Whether the replica has been asked for `day`'s first page."""
    first = site.url_for(day).split("?")[0]
    return any(first.endswith(path) for path in replica.paths())


class BackgroundBackfill(threading.Thread):
    """A backfill of every date of DAYS, run while the test breaks something under it."""

    def __init__(self, paper: str, papers: str):
        super().__init__()
        self.paper, self.papers, self.state = paper, papers, None

    def run(self) -> None:
        from flows.backfill import backfill

        self.state = backfill(
            self.paper, DAYS[0].isoformat(), DAYS[-1].isoformat(), self.papers, return_state=True
        )

    def failures(self, why: str):
        """Join it; the EditionsFailed its run ended with (`why` fails the test otherwise)."""
        from flows.backfill import EditionsFailed

        self.join(timeout=600)
        assert self.state.is_failed(), why
        error = self.state.result(raise_on_failure=False)
        assert isinstance(error, EditionsFailed)
        return error


def wait_until(condition, thread, what: str, timeout: float = 300) -> None:
    """Poll `condition` while the backfill `thread` runs; fail naming `what` if it never holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert thread.is_alive() and time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_range_with_no_editions_completes_as_missing(env):
    from flows.backfill import backfill

    site = build_site("founder-new", "bcrb", DAYS[:1], pages=2, skin="swiper")
    later = [dt.date(2025, 6, 1), dt.date(2025, 6, 3)]
    with ReplicaServer([site]) as replica:
        papers = str(write_papers_file([site], replica.base_url, env / "p.yaml", PREFIX))
        start, end = (d.isoformat() for d in later)
        state = backfill(f"{PREFIX}bcrb", start, end, papers, return_state=True)
    assert state.is_completed(), state.message
    results = state.result()
    assert [(r["date"], r["status"]) for r in results] == [
        ("2025-06-01", "missing"),
        ("2025-06-02", "missing"),
        ("2025-06-03", "missing"),
    ]
    assert all("404" in r["reason"] for r in results)
    [progress] = [a for a in artifacts_of(state) if a.type == "progress"]
    assert progress.data == 100.0 and "3 of 3 dates done" in progress.description


@pytest.mark.timeout(900)
def test_a_site_down_midway_fails_its_dates_and_a_second_run_does_only_those(env):
    from flows.backfill import backfill

    site = build_site("founder-new", "bcrb", DAYS, pages=2, skin="swiper")
    paper = f"{PREFIX}bcrb"
    replica = ReplicaServer([site], host="127.0.0.4")
    replica.start()
    port = int(replica.base_url.rsplit(":", 1)[1])
    papers = str(write_papers_file([site], replica.base_url, env / "p.yaml", PREFIX))
    thread = BackgroundBackfill(paper, papers)
    thread.start()
    try:
        # Down once the second date's crawl has begun: the first is archived by then.
        wait_until(lambda: began(site, replica, DAYS[1]), thread, "the second date began")
    finally:
        replica.stop()
    error = thread.failures("dates were lost to the outage")
    first, *rest = error.results
    assert (first["date"], first["status"]) == (DAYS[0].isoformat(), "complete")
    # The date in flight may have finished on its open connection; those after it failed.
    assert rest[-1]["status"] == "failed" and rest[-2]["status"] == "failed", rest
    for result in rest:
        if result["status"] == "failed":
            assert result["reason"] and result["date"] in str(error), result
        else:
            assert result["status"] in ("complete", "incomplete"), result
    assert all(manifest(paper, day) is None for day in DAYS[2:]), "no edition of a date that failed"

    with ReplicaServer([site], host="127.0.0.4", port=port) as again:  # the site is back
        state = backfill(
            paper, DAYS[0].isoformat(), DAYS[-1].isoformat(), papers, return_state=True
        )
        requested = again.paths()
    assert state.is_completed(), state.message
    statuses = {r["date"]: r["status"] for r in state.result()}
    assert statuses[DAYS[0].isoformat()] == "archived", "skipped: archived complete before"
    assert all(statuses[day.isoformat()] == "complete" for day in DAYS[2:])
    first_day = site.url_for(DAYS[0]).rsplit("/", 1)[0]
    assert not [path for path in requested if path.startswith(first_day.split("//")[-1])], (
        "nothing of the archived date was requested again"
    )
    assert all(manifest(paper, day)["status"] == "complete" for day in DAYS)


def test_the_catalog_database_restarted_midway_fails_only_the_dates_it_was_down_for(
    env, private_postgres, monkeypatch
):
    from flows.backfill import backfill

    monkeypatch.setenv("EPAPER_CATALOG_URL", private_postgres.url)
    site = build_site("founder-new", "bcrb", DAYS, pages=2, skin="swiper")
    paper = f"{PREFIX}bcrb"
    with ReplicaServer([site], host="127.0.0.5") as replica:
        papers = str(write_papers_file([site], replica.base_url, env / "p.yaml", PREFIX))
        thread = BackgroundBackfill(paper, papers)
        thread.start()
        # Down while the second date is crawled, up again once the third's crawl begins.
        wait_until(lambda: began(site, replica, DAYS[1]), thread, "the second date began")
        private_postgres.stop()
        wait_until(lambda: began(site, replica, DAYS[2]), thread, "the third date began")
        private_postgres.start()
        error = thread.failures("a date was lost to the outage")
        statuses = {r["date"]: r for r in error.results}
        assert statuses[DAYS[0].isoformat()]["status"] == "complete"
        down = statuses[DAYS[1].isoformat()]
        assert down["status"] == "failed" and down["reason"], down
        assert "catalog database" in down["reason"] and "unreachable" in down["reason"], down
        # the backfill went on: the dates after the restart are archived
        assert all(statuses[d.isoformat()]["status"] == "complete" for d in DAYS[2:]), statuses
        assert manifest(paper, DAYS[1]) is None, "no edition of the date that failed"

        state = backfill(
            paper, DAYS[0].isoformat(), DAYS[-1].isoformat(), papers, return_state=True
        )
    assert state.is_completed(), state.message
    again = {r["date"]: r["status"] for r in state.result()}
    assert again[DAYS[1].isoformat()] == "complete"
    assert all(again[d.isoformat()] == "archived" for d in (DAYS[0], *DAYS[2:])), again


def test_ctrl_c_leaves_no_half_edition_and_the_next_run_resumes(env):
    from prefect.settings import PREFECT_API_URL

    site = build_site("founder-new", "bcrb", DAYS[:3], pages=2, skin="swiper")
    paper = f"{PREFIX}bcrb"
    # Slow answers: the second date's crawl is under way when Ctrl-C comes.
    with ReplicaServer([site], delay=0.3) as replica:
        papers = str(write_papers_file([site], replica.base_url, env / "p.yaml", PREFIX))
        command = [sys.executable, "-m", "epaper.cli", "backfill", paper, "--papers", papers]
        command += ["--from", DAYS[0].isoformat(), "--to", DAYS[2].isoformat()]
        environment = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            first = process.stdout.readline()
            second = site.url_for(DAYS[1]).split("//")[-1]
            deadline = time.monotonic() + 120
            while not any(second.endswith(path) for path in replica.paths()):
                assert time.monotonic() < deadline, "the second date's crawl began"
                time.sleep(0.05)
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C at the terminal
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        assert first.startswith("[1/3, ETA ") and f"{paper} {DAYS[0]}: " in first, first
        assert process.returncode == 130, err
        assert err.strip().splitlines()[-1].startswith("epaper: interrupted by SIGINT")
        assert manifest(paper, DAYS[0])["status"] == "complete"
        assert manifest(paper, DAYS[1]) is None, "nothing of the interrupted edition is visible"

        again = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=300
        )
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines[0] == f"{paper}: 1 of 3 dates archived before, skipped; 2 to do"
    assert lines[1].startswith("[1/2, ETA ") and f"{paper} {DAYS[1]}: " in lines[1]
    assert lines[2].startswith(f"[2/2] {paper} {DAYS[2]}: ")
    assert all(manifest(paper, day)["status"] == "complete" for day in DAYS[:3])
