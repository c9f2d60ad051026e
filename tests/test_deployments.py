import yaml

from epaper import deployments
from epaper.config import load_papers


def test_prefect_yaml_is_in_step_with_papers_yaml():
    assert not deployments.drifted(), "run `epaper deployments` to regenerate prefect.yaml"


def test_one_scheduled_deployment_per_paper_on_the_process_pool():
    document = yaml.safe_load(deployments.PREFECT_YAML.read_text(encoding="utf-8"))
    papers = load_papers()
    by_name = {d["name"]: d for d in document["deployments"]}
    assert set(by_name) == set(papers)
    for paper in papers.values():
        deployment = by_name[paper.id]
        assert deployment["parameters"] == {"paper": paper.id}
        assert deployment["schedules"] == [{"cron": paper.schedule, "timezone": paper.timezone}]
        assert deployment["work_pool"]["name"] == deployments.WORK_POOL
    assert document["build"] is None and document["push"] is None
