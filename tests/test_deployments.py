"""prefect.yaml in step with papers.yaml, and deployed offline to a real Prefect server."""
import os

import httpx
import pytest
import yaml

from epaper import deployments
from epaper.cli import main
from epaper.config import load_papers
from tests.prefect_server import PROJECT, PrefectServer


def archive_deployments(document: dict) -> dict[str, dict]:
    return {d["name"]: d for d in document["deployments"] if d["entrypoint"].startswith("flows/archive.py:")}


def test_prefect_yaml_is_in_step_with_papers_yaml(capsys):
    assert not deployments.drifted(), "run `epaper deployments` to regenerate prefect.yaml"
    assert main(["deployments", "--check"]) == 0
    assert "matches" in capsys.readouterr().out


def test_drift_is_reported(tmp_path, capsys, monkeypatch):
    stale = tmp_path / "prefect.yaml"
    stale.write_text(deployments.PREFECT_YAML.read_text(encoding="utf-8").replace("Asia/Shanghai", "UTC", 1),
                     encoding="utf-8")
    assert deployments.drifted(stale)
    monkeypatch.setattr(deployments, "render", lambda papers: "an edited papers.yaml")
    assert main(["deployments", "--check"]) == 1
    assert "out of step" in capsys.readouterr().err


def test_one_scheduled_deployment_per_paper_on_the_process_pool():
    document = yaml.safe_load(deployments.PREFECT_YAML.read_text(encoding="utf-8"))
    papers = load_papers()
    by_name = archive_deployments(document)
    assert set(by_name) == set(papers)
    for paper in papers.values():
        deployment = by_name[paper.id]
        assert deployment["parameters"] == {"paper": paper.id}
        assert deployment["schedules"] == [{"cron": paper.schedule, "timezone": "Asia/Shanghai"}]
        assert deployment["work_pool"]["name"] == deployments.WORK_POOL
    backfill = next(d for d in document["deployments"] if d["name"] == "backfill")
    assert (backfill["entrypoint"], backfill["schedules"]) == ("flows/backfill.py:backfill", [])
    assert document["build"] is None and document["push"] is None


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
    assert set(by_name) == set(papers)
    for paper in papers.values():
        deployment = by_name[paper.id]
        assert deployment["work_pool_name"] == deployments.WORK_POOL
        assert deployment["parameters"] == {"paper": paper.id}
        assert deployment["pull_steps"] == [{"epaper.deployments.enter_project": {}}]
        [schedule] = deployment["schedules"]
        assert (schedule["schedule"]["cron"], schedule["schedule"]["timezone"]) == (paper.schedule, paper.timezone)
        assert schedule["active"]
    assert any(d["name"] == "backfill" for d in listed)

    limits = {limit["tag"]: limit["concurrency_limit"]
              for limit in api.post("/concurrency_limits/filter", json={"limit": 200}).json()}
    assert limits.pop("fetch") == deployments.FETCH_LIMIT
    assert limits == {f"site:{paper}": 1 for paper in papers}

    again = server.run("epaper", "setup-prefect", "--fetch-limit", "2")  # idempotent; updates the limit
    assert again.returncode == 0 and "exists" in again.stdout, again.stderr
    fetch = api.get("/concurrency_limits/tag/fetch").json()
    assert fetch["concurrency_limit"] == 2
