"""What `epaper archive`/`backfill` show at the terminal (real CLI subprocesses, real Prefect
runs): one line per edition, Prefect's log in a file under EPAPER_HOME/logs (on the terminal
with -v), and a backfill with a failed edition ends Failed in Prefect and non-zero here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.fixtures.edition import DAYS, epaper

EDITION_LINE = (
    r"bcrb {day}: \d+ pages, \d+ articles, \d+ reprints, "
    r"archived -> editions/bcrb/{day}/manifest.json"
)


def log_files(home: str) -> list[Path]:
    return sorted((Path(home) / "logs").glob("*.log"))


def test_archive_prints_one_line_and_keeps_prefects_log_in_a_file(papers, archive_env):
    _, papers_file = papers
    run = epaper("archive", "bcrb", "--date", DAYS[0].isoformat(), "--papers", papers_file)
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(EDITION_LINE.format(day=DAYS[0]) + "\n", run.stdout), run.stdout
    assert run.stderr == ""
    [log] = log_files(archive_env["EPAPER_HOME"])
    text = log.read_text(encoding="utf-8")
    assert f"Beginning flow run 'bcrb {DAYS[0]}'" in text and "Finished in state Completed" in text


def test_verbose_shows_prefects_log_on_the_terminal(papers, archive_env):
    _, papers_file = papers
    run = epaper("-v", "archive", "bcrb", "--date", DAYS[0].isoformat(), "--papers", papers_file)
    assert run.returncode == 0, run.stderr
    assert f"Beginning flow run 'bcrb {DAYS[0]}'" in run.stderr
    assert re.search(EDITION_LINE.format(day=DAYS[0]), run.stdout)
    [log] = log_files(archive_env["EPAPER_HOME"])
    assert f"Beginning flow run 'bcrb {DAYS[0]}'" in log.read_text(encoding="utf-8")


def test_a_failed_edition_is_one_line_naming_the_log_file(sites, papers, archive_env):
    _, papers_file = papers
    sites[0].set_faults({sites[0].url_for(DAYS[0]): 500})
    run = epaper("archive", "bcrb", "--date", DAYS[0].isoformat(), "--papers", papers_file)
    assert run.returncode == 1
    [line] = run.stderr.splitlines()
    [log] = log_files(archive_env["EPAPER_HOME"])
    assert line.startswith("epaper: error: ") and "500" in line
    assert line.endswith(f" (details: {log})")
    assert "Traceback" not in run.stderr + run.stdout
    assert "Traceback" in log.read_text(encoding="utf-8")  # the detail is kept, in the file


def test_backfill_with_a_failed_edition_prints_every_date_and_ends_failed(
    sites, papers, archive_env
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterName,
    )

    _, papers_file = papers
    # Day 1 archives, day 2's edition page answers 500, day 3 has no edition.
    sites[0].set_faults({sites[0].url_for(DAYS[1]): 500})
    first, last = DAYS[0].isoformat(), "2025-04-30"
    run = epaper("backfill", "bcrb", "--from", first, "--to", last, "--papers", papers_file)
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert len(lines) == 3, run.stdout
    eta = r", ETA \d+:\d\d:\d\d"  # dates done / to do, and the time left until the last
    assert re.fullmatch(rf"\[1/3{eta}\] " + EDITION_LINE.format(day=first), lines[0])
    assert re.fullmatch(rf"\[2/3{eta}\] bcrb {DAYS[1]}: failed \(.*500.*\)", lines[1])
    assert re.fullmatch(r"\[3/3\] bcrb 2025-04-30: no edition \(.*\)", lines[2])
    [log] = log_files(archive_env["EPAPER_HOME"])
    reasons, error = run.stderr.splitlines()
    assert re.fullmatch(rf"epaper: bcrb {DAYS[1]} failed: .*500.*", reasons), (
        "each failed date's reason"
    )
    assert error == f"epaper: error: 1 of 3 editions of bcrb failed: {DAYS[1]} (details: {log})"

    with get_client(sync_client=True) as client:
        [parent] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"bcrb {first}..{last}"]))
        )
        assert parent.state_type.value == "FAILED"
        assert parent.state.message.endswith(f"1 of 3 editions of bcrb failed: {DAYS[1]}")
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[parent.id]))
        )
    assert [a.data for a in artifacts if a.type == "progress"] == [100.0]
    [table] = [a for a in artifacts if a.type == "table"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [row["status"] for row in rows] == ["complete", "failed", "missing"]
