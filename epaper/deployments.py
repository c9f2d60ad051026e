"""prefect.yaml, rendered from papers.yaml: one scheduled deployment per paper.

`epaper deployments` rewrites it; `epaper deployments --check` (and a test)
fails when the two have drifted apart.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from epaper.config import BUILTIN_PAPERS, Paper, load_papers

PREFECT_YAML = BUILTIN_PAPERS.parent / "prefect.yaml"
WORK_POOL = "epaper"
HEADER = "# Generated from papers.yaml by `epaper deployments`; edit papers.yaml, not this file.\n"


def render(papers: dict[str, Paper]) -> str:
    document = {
        "name": "epaper-archive",
        "prefect-version": "3.8.8",
        "build": None,
        "push": None,
        # Workers start in the project folder (the repo, or /app in the image).
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "."}}],
        "deployments": [{
            "name": paper.id,
            "description": f"{paper.name} ({paper.region})" if paper.region else paper.name,
            "entrypoint": "flows/archive.py:archive_edition",
            "parameters": {"paper": paper.id},
            "tags": [f"paper:{paper.id}"],
            "work_pool": {"name": WORK_POOL},
            "schedules": [{"cron": paper.schedule, "timezone": paper.timezone}],
        } for paper in papers.values()],
    }
    return HEADER + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def drifted(path: Path = PREFECT_YAML) -> bool:
    return not path.exists() or path.read_text(encoding="utf-8") != render(load_papers())


def write(path: Path = PREFECT_YAML) -> None:
    path.write_text(render(load_papers()), encoding="utf-8")
