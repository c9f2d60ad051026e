"""prefect.yaml in step with papers.yaml, and deployed offline to a real Prefect server."""

import os
import signal
import subprocess
import time
from datetime import date

import httpx
import pytest
import yaml

from epaper import deployments
from epaper.cli import main
from papers.catalogue import load_papers
from replica import ReplicaServer, build_site
from tests.prefect_server import BIN, PROJECT, PrefectServer

DAY = date(2025, 4, 28)


def archive_deployments(document: dict) -> dict[str, dict]:
    return {
        d["name"]: d
        for d in document["deployments"]
        if d["entrypoint"].startswith("flows/archive.py:")
    }


def test_prefect_yaml_is_in_step_with_papers_yaml(capsys, monkeypatch):
    monkeypatch.chdir(PROJECT)  # `epaper deployments` works on the current folder's prefect.yaml
    assert not deployments.drifted(), "run `epaper deployments` to regenerate prefect.yaml"
    assert main(["deployments", "--check"]) == 0
    assert "matches" in capsys.readouterr().out


def test_drift_is_reported(tmp_path, capsys, monkeypatch):
    stale = tmp_path / "prefect.yaml"
    stale.write_text(
        deployments.PREFECT_YAML.read_text(encoding="utf-8").replace("Asia/Shanghai", "UTC", 1),
        encoding="utf-8",
    )
    assert deployments.drifted(stale)
    monkeypatch.setattr(deployments, "render", lambda *args: "an edited papers.yaml")
    monkeypatch.chdir(PROJECT)
    assert main(["deployments", "--check"]) == 1
    assert "out of step" in capsys.readouterr().err


def test_one_scheduled_deployment_per_paper_on_the_process_pool():
    document = yaml.safe_load(deployments.PREFECT_YAML.read_text(encoding="utf-8"))
    papers = load_papers()
    by_name = archive_deployments(document)
    assert set(by_name) == set(papers) - set(deployments.unfit(papers)), (
        "every paper a family fits, and no other"
    )
    for paper in (papers[paper_id] for paper_id in by_name):
        deployment = by_name[paper.id]
        assert deployment["parameters"] == {"paper": paper.id}
        assert deployment["schedules"] == [{"cron": paper.schedule, "timezone": "Asia/Shanghai"}]
        assert deployment["work_pool"]["name"] == deployments.WORK_POOL
    backfill = next(d for d in document["deployments"] if d["name"] == "backfill")
    assert (backfill["entrypoint"], backfill["schedules"]) == ("flows/backfill.py:backfill", [])
    assert document["build"] is None and document["push"] is None


def test_deployments_for_your_own_papers_go_into_the_current_folder(tmp_path):
    mine = tmp_path / "papers.yaml"
    own = build_site("founder-new", "bcrb", [DAY]).paper_entry("http://127.0.0.1:8080")
    mine.write_text(
        yaml.safe_dump([{**own, "id": "mypaper"}], allow_unicode=True), encoding="utf-8"
    )
    before = deployments.PREFECT_YAML.read_bytes()

    def epaper(*args: str):
        return subprocess.run(
            [str(BIN / "epaper"), "deployments", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    wrote = epaper("--papers", "papers.yaml")
    assert wrote.returncode == 0, wrote.stderr
    assert wrote.stdout == f"wrote {tmp_path / 'prefect.yaml'} from papers.yaml and papers.yaml\n"
    assert deployments.PREFECT_YAML.read_bytes() == before  # nothing beside the installed package
    document = yaml.safe_load((tmp_path / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in document["deployments"]}
    assert by_name["mypaper"]["parameters"] == {"paper": "mypaper", "papers_file": str(mine)}
    assert by_name["backfill"]["parameters"] == {"papers_file": str(mine)}
    assert by_name["rmrb"]["parameters"] == {"paper": "rmrb"}  # built-in: runs without the file
    # Deployed from this folder, the flows are found by their full path.
    assert all(os.path.exists(d["entrypoint"].split(":")[0]) for d in document["deployments"])
    assert epaper("--papers", "papers.yaml", "--check").returncode == 0

    elsewhere = epaper("--papers", str(mine), "-o", "sub/prefect.yaml")  # no folder sub/: one line
    assert elsewhere.returncode == 1 and elsewhere.stderr.count("\n") == 1
    assert "sub/prefect.yaml" in elsewhere.stderr
    (tmp_path / "sub").mkdir()
    assert epaper("--papers", str(mine), "-o", "sub/prefect.yaml").returncode == 0
    written = (tmp_path / "sub" / "prefect.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(written) == document
    stale = epaper("--check")  # without the papers file, mypaper's deployment is one too many
    assert stale.returncode == 1
    assert stale.stderr == (
        f"epaper: error: {tmp_path / 'prefect.yaml'} is out of step with "
        "papers.yaml: run `epaper deployments -o prefect.yaml`\n"
    )


def test_pull_step_enters_the_project_folder(monkeypatch, tmp_path):
    document = yaml.safe_load(deployments.PREFECT_YAML.read_text(encoding="utf-8"))
    assert document["pull"] == [{"epaper.deployments.enter_project": {}}]
    monkeypatch.chdir(tmp_path)  # where a process worker starts a flow run
    assert deployments.enter_project() == {"directory": str(PROJECT)}
    for deployment in document["deployments"]:
        assert os.path.exists(deployment["entrypoint"].split(":")[0])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with PrefectServer(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server


def test_setup_and_deploy_all_offline_without_prompts(server):
    setup = server.run("epaper", "setup-prefect")
    assert setup.returncode == 0, setup.stderr
    code, output = server.run_in_terminal("prefect", "deploy", "--all")
    assert code == 0, output[-3000:]

    api = httpx.Client(base_url=server.url, timeout=30)
    pool = api.get(f"/work_pools/{deployments.WORK_POOL}").json()
    assert pool["type"] == "process"
    listed = api.post("/deployments/filter", json={"limit": 200}).json()
    papers = load_papers()
    by_name = {d["name"]: d for d in listed if d["entrypoint"].startswith("flows/archive.py:")}
    unfit = set(deployments.unfit(papers))
    assert unfit, "the catalogue lists papers no family fits"
    assert set(by_name) == set(papers) - unfit, "a paper no family fits is not scheduled"
    loads = deployments.host_loads(papers)
    for paper in (papers[paper_id] for paper_id in by_name):
        deployment = by_name[paper.id]
        assert deployment["work_pool_name"] == deployments.WORK_POOL
        assert deployment["work_queue_name"] == deployments.work_queue(loads[paper.id])
        assert deployment["parameters"] == {"paper": paper.id}
        assert deployment["pull_steps"] == [{"epaper.deployments.enter_project": {}}]
        [schedule] = deployment["schedules"]
        assert (schedule["schedule"]["cron"], schedule["schedule"]["timezone"]) == (
            paper.schedule,
            paper.timezone,
        )
        assert schedule["active"]
    assert any(d["name"] == "backfill" for d in listed)
    # The papers of the busiest hosts are served first: a worker takes runs by queue priority.
    queues = api.post(f"/work_pools/{deployments.WORK_POOL}/queues/filter", json={}).json()
    by_priority = [q["name"] for q in sorted(queues, key=lambda q: q["priority"])]
    assert by_priority == deployments.queues_by_priority(papers)
    assert by_priority[0] == f"host-of-{max(loads.values())}" and by_priority[-1] == "default"

    tag_limits = api.post("/concurrency_limits/filter", json={"limit": 200}).json()
    assert tag_limits == [], "politeness is per host, in global limits, not per paper in tags"
    limits = {
        limit["name"]: limit["limit"]
        for limit in api.post("/v2/concurrency_limits/filter", json={"limit": 200}).json()
    }
    assert limits == {f"host:{host}": 1 for host in deployments.hosts_of(papers)}
    assert len(limits) < len(papers) - len(unfit), "papers of one press group share a host"

    again = server.run(
        "epaper", "setup-prefect", "--fetch-limit", "2"
    )  # idempotent; sets the operator's cap
    assert again.returncode == 0 and "exists" in again.stdout, again.stderr
    cap = api.get("/v2/concurrency_limits/fetch-all").json()
    assert cap["limit"] == 2
    removed = server.run("epaper", "setup-prefect", "--fetch-limit", "0")
    assert removed.returncode == 0, removed.stderr
    assert api.get("/v2/concurrency_limits/fetch-all").status_code == 404


def flow_runs(api: httpx.Client, *names: str) -> dict[str, dict]:
    body = {"flow_runs": {"name": {"any_": list(names)}}}
    return {run["name"]: run for run in api.post("/flow_runs/filter", json=body).json()}


def test_a_killed_run_is_marked_crashed_and_a_finished_one_left_alone(server, tmp_path):
    """SIGKILL leaves a run "Running" on the server; the automation made by setup-prefect
    crashes it once its heartbeats stop. Heartbeats every 30 s (Prefect's shortest), window 60 s."""
    setup = server.run("epaper", "setup-prefect", "--crash-after", "60")
    assert setup.returncode == 0, setup.stderr
    api = httpx.Client(base_url=server.url, timeout=30)
    [automation] = [
        a
        for a in api.post("/automations/filter", json={}).json()
        if a["name"] == deployments.ZOMBIE_AUTOMATION
    ]
    assert automation["trigger"]["within"] == 60 and automation["enabled"]

    site = build_site("founder-new", "bcrb", [DAY], pages=2)
    env = {
        "EPAPER_HOME": str(tmp_path / "home"),
        "EPAPER_DOWNLOAD_DELAY": "0",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
    }
    with ReplicaServer(
        [site], delay=0.5
    ) as replica:  # slow: the crawl is still going when the run is killed
        papers_file = tmp_path / "papers.yaml"
        papers_file.write_text(
            yaml.safe_dump([site.paper_entry(replica.base_url)], allow_unicode=True),
            encoding="utf-8",
        )
        finished = server.run(
            "epaper", "archive", "bcrb", "--date", "2025-04-27", "--papers", str(papers_file), **env
        )
        assert finished.returncode == 0 and "no edition" in finished.stdout + finished.stderr, (
            finished.stderr
        )
        killed = server.spawn(
            "killed-run",
            ["epaper", "archive", "bcrb", "--date", DAY.isoformat(), "--papers", str(papers_file)],
            **env,
        )
        try:
            deadline = time.monotonic() + 120
            while (
                not [p for p in replica.paths() if "/202504/28/" in p]
                and time.monotonic() < deadline
                and killed.poll() is None
            ):
                time.sleep(0.2)
            assert flow_runs(api, f"bcrb {DAY}")[f"bcrb {DAY}"]["state_type"] == "RUNNING"
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait(30)
    deadline = time.monotonic() + 180
    while (
        flow_runs(api, f"bcrb {DAY}")[f"bcrb {DAY}"]["state_type"] != "CRASHED"
        and time.monotonic() < deadline
    ):
        time.sleep(2)
    runs = flow_runs(api, f"bcrb {DAY}", "bcrb 2025-04-27")
    assert runs[f"bcrb {DAY}"]["state_type"] == "CRASHED", runs[f"bcrb {DAY}"]["state"]
    assert runs["bcrb 2025-04-27"]["state_type"] == "COMPLETED"
