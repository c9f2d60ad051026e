"""Site health read from a real archive: two editions of a replica paper archived by the real
flow, one complete and one cut by its request budget, a due date left unarchived; `epaper
health` and the site-health flow's table artifact show the last complete edition, the missing
date, the incomplete edition with its reason and the article counts."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from epaper.cli import main
from epaper.demo import write_papers_file
from papers.catalogue import parse_paper
from replica import ReplicaServer, build_site
from storage.archive import open_archive
from storage.health import due_dates, failed_checks

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.datetime.now(SHANGHAI).date()
# The replica's schedule is 06:30 daily: these dates were due whatever the hour now.
COMPLETE, CUT, UNARCHIVED = (TODAY - dt.timedelta(days=n) for n in (4, 3, 2))
PAPER = "health-bcrb"


@pytest.fixture
def two_editions(tmp_path, monkeypatch, archive_env, prefect_api):
    """(papers file, result of the complete edition, result of the cut one)."""
    from flows.archive import archive_edition

    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", "bcrb", [COMPLETE, CUT, UNARCHIVED], pages=3)
    with ReplicaServer([site]) as server:
        papers = str(write_papers_file([site], server.base_url, tmp_path / "p.yaml", "health-"))
        complete = archive_edition(PAPER, COMPLETE.isoformat(), papers)
        monkeypatch.setenv("EPAPER_REQUEST_BUDGET", "4")  # the edition page and a few more
        cut = archive_edition(PAPER, CUT.isoformat(), papers)
    assert complete["status"] == "complete" and cut["status"] == "incomplete"
    assert cut["incomplete"].startswith("budget: ")
    return papers, complete, cut


def test_health_shows_last_complete_missing_incomplete_and_counts(two_editions, capsys):
    papers, complete, cut = two_editions
    assert main(["health", "--papers", papers]) == 0
    lines = capsys.readouterr().out.splitlines()
    [line] = [line for line in lines if line.startswith(f"{PAPER}: ")]
    assert f"last complete {COMPLETE}" in line
    assert f"1 incomplete (latest {CUT}: {cut['incomplete']})" in line
    assert "missing" in line
    assert any(line.startswith("rmrb: ") for line in lines), "every catalogued paper has a line"

    assert main(["health", PAPER, "--papers", papers]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == line
    missing = out[1].removeprefix("  missing: ").split(", ")
    assert str(UNARCHIVED) in missing and str(COMPLETE) not in missing and str(CUT) not in missing
    today_due = dt.datetime.now(SHANGHAI).time() >= dt.time(6, 30)
    assert len(missing) == 30 - (not today_due) - 2, "every due date but the two archived"
    assert out[2:] == [
        f"  {COMPLETE}  complete   {len(complete['articles']):>4} articles",
        f"  {CUT}  incomplete {len(cut['articles']):>4} articles",
        f"      {cut['incomplete']}",
    ]
    assert len(cut["articles"]) < len(complete["articles"])


def test_health_flow_makes_a_table_artifact(two_editions):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.health import site_health

    papers, complete, cut = two_editions
    state = site_health(PAPER, papers, return_state=True)
    assert state.is_failed(), "an unhealthy paper does not end green"
    assert f"1 of 1 papers need a look: {PAPER}" in state.message
    [report] = state.result(raise_on_failure=False).report
    assert report["last_complete"] == str(COMPLETE) and str(UNARCHIVED) in report["missing"]
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    assert run.name == f"health {PAPER}"
    [table] = [a for a in artifacts if a.type == "table"]
    assert table.key == f"site-health-{PAPER}"
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    [row] = rows
    assert (row["paper"], row["ok"], row["last complete"]) == (PAPER, "NO", str(COMPLETE))
    assert str(UNARCHIVED) in row["missing"].split(", ")
    assert row["incomplete"] == f"{CUT}: {cut['incomplete']}"
    assert row["articles per date"] == (
        f"{COMPLETE} {len(complete['articles'])}, {CUT} {len(cut['articles'])}"
    )


def test_failed_checks_and_a_damaged_manifest_are_reasons(two_editions, capsys):
    papers, complete, _ = two_editions
    with open_archive() as archive:
        manifest = json.loads(archive.get(complete["key"]))
        failing = {**manifest, "status": "incomplete"}
        failing["checks"] = [
            {"name": "pages contiguous", "ok": True},
            {"name": "articles per page", "ok": False, "detail": "page 3 has none"},
        ]
        archive.put(complete["key"], json.dumps(failing).encode(), "application/json")
        damaged = complete["key"].replace(str(COMPLETE), str(UNARCHIVED))
        archive.put(damaged, b"{not json", "application/json")
        assert len(archive.versions(complete["key"])) == 2, "the complete version is kept"
    assert main(["health", PAPER, "--papers", papers]) == 0
    out = capsys.readouterr().out
    assert "last complete never" in out
    assert f"  {COMPLETE}  incomplete" in out and "      articles per page: page 3 has none" in out
    assert "pages contiguous" not in out
    assert f"  {UNARCHIVED}  unreadable" in out and f"manifest {damaged} unreadable" in out


def test_due_dates_follow_the_schedule_in_the_papers_time_zone():
    weekly = parse_paper(
        {
            "id": "weekly",
            "name": "周报",
            "family": "founder-new",
            "edition_url": "http://127.0.0.1/{date:%Y%m%d}/index.html",
            "schedule": "0 6 * * 1",  # Mondays, 06:00 in Shanghai
            "timezone": "Asia/Shanghai",
        },
        "test",
    )
    before_six = dt.datetime(2025, 5, 5, 5, 59, tzinfo=SHANGHAI)  # a Monday
    assert due_dates(weekly, before_six, 14) == [dt.date(2025, 4, 28)]
    # 22:30 UTC on Sunday is 06:30 on Monday in Shanghai: that Monday is due
    utc = dt.datetime(2025, 5, 4, 22, 30, tzinfo=dt.timezone.utc)
    assert due_dates(weekly, utc, 14) == [dt.date(2025, 4, 28), dt.date(2025, 5, 5)]


def test_failed_checks_of_each_recorded_shape():
    assert failed_checks(None) == []
    assert failed_checks(["page numbers not contiguous"]) == ["page numbers not contiguous"]
    assert failed_checks({"article count": "3, under half the median 40"}) == [
        "article count: 3, under half the median 40"
    ]
    assert failed_checks([{"check": "hotspots", "passed": False, "reason": "2 not archived"}]) == [
        "hotspots: 2 not archived"
    ]


def test_bad_input_is_one_line_naming_it(archive_env, capsys):
    assert main(["health", "no-such-paper"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-paper" in err
    assert main(["health", "--days", "0"]) == 1
    assert capsys.readouterr().err == "epaper: error: bad window of 0 days: must be 1 or more\n"


def test_the_health_deployment_runs_daily():
    import yaml

    from epaper import deployments

    document = yaml.safe_load(deployments.PREFECT_YAML.read_text(encoding="utf-8"))
    [health] = [d for d in document["deployments"] if d["name"] == "health"]
    assert health["entrypoint"] == "flows/health.py:site_health"
    [schedule] = health["schedules"]
    assert croniter_daily(schedule["cron"]) and schedule["timezone"] == "Asia/Shanghai"


def croniter_daily(cron: str) -> bool:
    """Fires once on every day of a fortnight."""
    paper = parse_paper(
        {
            "id": "daily",
            "name": "x",
            "family": "founder-new",
            "edition_url": "http://127.0.0.1/{date:%Y%m%d}/index.html",
            "schedule": cron,
        },
        "test",
    )
    now = dt.datetime(2025, 5, 14, 23, 59, tzinfo=SHANGHAI)
    return len(due_dates(paper, now, 14)) == 14
