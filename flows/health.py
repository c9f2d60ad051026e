"""Prefect flow: site health of every paper (or one), as a table artifact; scheduled daily."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_table_artifact

from papers.catalogue import get_paper, load_papers
from storage.archive import open_archive
from storage.health import DAYS, archive_health


class PapersUnhealthy(RuntimeError):
    """Some papers need a look: the run ends Failed so that the UI (and a Prefect automation
    or notification) shows it; `report` is what the flow would have returned."""

    def __init__(self, message: str, report: list[dict]):
        super().__init__(message)
        self.report = report

    def __reduce__(self):  # Prefect pickles a flow's exception
        return PapersUnhealthy, (str(self), self.report)


def _reasons(edition) -> str:
    return f"{edition.date}: {'; '.join(edition.reasons) or 'no reason recorded'}"


@flow(name="site-health", flow_run_name="health {paper}")
def site_health(
    paper: str | None = None, papers_file: str | None = None, days: int = DAYS
) -> list[dict]:
    """Per paper the last complete edition, the due dates with no edition, the incomplete
    editions and why, and the article count per date, over the last `days` days. Ends Failed
    (PapersUnhealthy, after the artifact) when a paper is not ok."""
    papers = [get_paper(paper, papers_file)] if paper else list(load_papers(papers_file).values())
    with open_archive() as archive:
        report = archive_health(archive, papers, days=days)
    create_table_artifact(
        key=f"site-health-{paper}" if paper else "site-health",
        table=[
            {
                "paper": health.paper,
                "ok": "yes" if health.ok else "NO",
                "last complete": health.last_complete or "never",
                "missing": ", ".join(health.missing),
                "incomplete": " | ".join(_reasons(e) for e in health.incomplete),
                "articles per date": ", ".join(f"{e.date} {e.articles}" for e in health.editions),
            }
            for health in report
        ],
        description=f"site health over the last {days} days: "
        f"{sum(not h.ok for h in report)} of {len(report)} papers need a look",
    )
    unhealthy = [health.paper for health in report if not health.ok]
    if unhealthy:
        raise PapersUnhealthy(
            f"{len(unhealthy)} of {len(report)} papers need a look: {', '.join(unhealthy)}",
            [health.as_dict() for health in report],
        )
    return [health.as_dict() for health in report]
