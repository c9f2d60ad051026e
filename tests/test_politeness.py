"""Politeness per host across flow runs (flows/archive.py): real Prefect runs of replica papers
side by side. Papers on one host (one ReplicaServer on 127.0.0.2) never crawl it at once;
papers on two hosts (127.0.0.2 and 127.0.0.3: other loopback addresses are other hosts to
Scrapy and to the limits) crawl side by side. Told from the times the replicas recorded."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from epaper.demo import write_papers_file
from replica import ReplicaServer, build_site

DAY = dt.date(2025, 4, 28)
PREFIX = "polite-"  # ids of our own: the catalogue's bcrb is the real site
# Scrapy's own politeness within a crawl, short: each crawl lasts seconds (~20 requests), so
# two that could overlap do.
DELAY = "0.4"


def sites(*papers: str):
    return [build_site("founder-new", paper, [DAY], pages=3, skin="swiper") for paper in papers]


def run_side_by_side(papers: list[str], papers_file: str) -> list[dict]:
    """archive_edition of each replica paper, each in a thread of its own, started together."""
    from flows.archive import archive_edition

    results: dict[str, object] = {}

    def run(paper: str) -> None:
        results[paper] = archive_edition(
            PREFIX + paper, DAY.isoformat(), papers_file, return_state=True
        )

    threads = [threading.Thread(target=run, args=(paper,)) for paper in papers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    states = [results[paper] for paper in papers]
    assert all(state.is_completed() for state in states), [s.message for s in states]
    return [state.result() for state in states]


def spans(replicas: list[ReplicaServer], papers: list[str]) -> dict[str, tuple[float, float]]:
    """Per paper the arrival of its first and last request (robots.txt is the host's)."""
    out = {}
    for paper in papers:
        times = [
            entry["time"]
            for replica in replicas
            for entry in replica.log
            if entry["path"].startswith(f"/{paper}/")
        ]
        assert len(times) > 10, f"{paper} was crawled"
        out[paper] = (min(times), max(times))
    return out


@pytest.fixture
def polite_env(archive_env, prefect_api, monkeypatch, tmp_path):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", DELAY)
    monkeypatch.setenv("EPAPER_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.mark.timeout(600)
def test_papers_on_one_host_never_crawl_it_at_once(polite_env):
    from prefect.client.orchestration import get_client

    from flows.archive import ensure_host_limit

    with get_client(sync_client=True) as client:  # as setup-prefect (or a deployment run) does
        ensure_host_limit(client, "127.0.0.2")
    one_host = sites("bcrb", "shrb")
    with ReplicaServer(one_host, host="127.0.0.2") as replica:
        papers_file = str(
            write_papers_file(one_host, replica.base_url, polite_env / "p.yaml", PREFIX)
        )
        results = run_side_by_side(["bcrb", "shrb"], papers_file)
        assert replica.max_in_flight == 1, "one request at a time to the host"
    assert all(r["status"] == "complete" for r in results)
    (first, last), (second_first, second_last) = sorted(spans([replica], ["bcrb", "shrb"]).values())
    assert last < second_first, "the second paper's crawl began after the first one's ended"
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("host:127.0.0.2")
    assert (limit.limit, limit.active_slots) == (1, 0), "every slot freed"


class Rendezvous(ReplicaServer):
    """A replica that answers its paper's requests only once every replica of the group has
    had one (or after `patience` s): crawls that run side by side overlap whatever the load,
    crawls run one after the other do not."""

    def __init__(self, group: list, *args, patience: float = 300, **kwargs):
        super().__init__(*args, **kwargs)
        self.group, self.patience, self.seen = group, patience, threading.Event()
        group.append(self)

    def resolve(self, path, host):
        if path != "/robots.txt":
            self.seen.set()
            deadline = time.monotonic() + self.patience
            for other in self.group:
                other.seen.wait(max(0.0, deadline - time.monotonic()))
        return super().resolve(path, host)


@pytest.mark.timeout(900)
def test_papers_on_two_hosts_crawl_side_by_side(polite_env):
    two, three = sites("bcrb"), sites("shrb")
    group: list = []
    with (
        Rendezvous(group, two, host="127.0.0.2") as a,
        Rendezvous(group, three, host="127.0.0.3") as b,
    ):
        papers_file = polite_env / "p.yaml"
        entries = write_papers_file(two, a.base_url, polite_env / "a.yaml", PREFIX).read_text()
        entries += write_papers_file(three, b.base_url, polite_env / "b.yaml", PREFIX).read_text()
        papers_file.write_text(entries, encoding="utf-8")
        results = run_side_by_side(["bcrb", "shrb"], str(papers_file))
    assert all(r["status"] == "complete" for r in results)
    (first, last), (second_first, second_last) = sorted(spans([a, b], ["bcrb", "shrb"]).values())
    assert second_first < last, "the two hosts were crawled at the same time"
    assert last - first < a.patience, "neither crawl waited for the other to end"
