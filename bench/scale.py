"""Many papers on several workers: throughput against the bound that politeness sets.

    python -m bench.scale [--sites 50] [--workers 1,2,4] [--runs-per-worker 8] [--dates 30]
                          [--delay 1.0] [--json FILE]

The production set-up without Docker: `prefect server start` on the local PostgreSQL, the
dedupe catalog on PostgreSQL, SeaweedFS for S3, process workers on the pool `epaper`, the
deployments `epaper deployments` writes and `prefect deploy --all` makes, the limits of
`epaper setup-prefect` (one crawl per host). Replica sites stand for the papers: `--sites` of
them on their own loopback addresses (127.0.0.2, 127.0.0.3, …: distinct hosts to Scrapy and
to the host limits), several papers on some hosts as press groups have them; editions of 8-16
pages, 5-10 articles a page, page PDFs of ~1 MB; Scrapy's politeness delay `--delay`.

morning   every paper's edition of one date, triggered at once through its deployment, with
          1, 2 and 4 workers (a new date each time, so every edition is new).
backfill  `--dates` dates of 3 papers (the backfill deployment, one run per paper), with the
          most workers.

Per run: editions per hour achieved / the politeness bound. The bound is the time the
busiest host needs at one request per delay, given the requests it answered (the replica
counts them): no polite schedule finishes the batch sooner. CPU seconds per edition (the
workers and every process under them; Prefect's server apart), peak memory (the sum over
the workers' process trees, each flow run and crawl process, and the whole machine's),
Prefect's share per edition (the flow run's start, its time outside its tasks, the server's
CPU), and where the time of the slowest host went (before its first crawl, crawling, between
crawls, after its last).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import yaml  # noqa: E402

from bench import harness  # noqa: E402

POSTGRES = "postgres@127.0.0.1:5432"
HOST_SIZES = [1, 2, 1, 3, 1, 4]  # papers per host, cycled: a mean of 2, press groups of up to 4
FIRST_DAY = dt.date(2025, 1, 6)
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


# --- the replica ----------------------------------------------------------------------------


def host_plan(sites: int) -> list[int]:
    """Papers per host, `sites` in all."""
    sizes, k = [], 0
    while sum(sizes) < sites:
        sizes.append(min(HOST_SIZES[k % len(HOST_SIZES)], sites - sum(sizes)))
        k += 1
    return sizes


@contextlib.contextmanager
def rich_editions(pages: tuple[int, int], articles: tuple[int, int]):
    """Replica editions of a real paper's size: each paper's page count drawn from `pages`
    (the same every day: a paper that halves overnight fails its article count check), each
    page's article count from `articles` (replica.edition makes 2-3 a page)."""
    import replica.site as replica_site
    from replica.edition import Story, local_story, make_edition

    def sized(paper, day, pages_=4, masthead=False):
        size = random.Random(f"scale:{paper}").randint(*pages)
        rng = random.Random(f"scale:{paper}:{day}")
        edition = make_edition(paper, day, size, masthead=masthead)
        slot = 1000
        for page in edition.pages:
            if page.kind != "news":
                continue
            for _ in range(rng.randint(*articles) - len(page.stories)):
                page.stories.append(Story(local_story(paper, day, slot)))
                slot += 1
        return edition

    saved = replica_site.make_edition
    replica_site.make_edition = sized
    try:
        yield
    finally:
        replica_site.make_edition = saved


def build_replica(args, days: list[dt.date], backfill_days: list[dt.date]):
    """(servers, sites by host, paper ids of the backfill): one ReplicaServer per host."""
    from replica import ReplicaServer, build_site

    sizes = host_plan(args.sites)
    if len(sizes) > 250:
        raise SystemExit("bench.scale: at most 250 hosts (127.0.0.2-127.0.0.251)")
    sites, n = [], 0
    for h, size in enumerate(sizes):
        group = []
        for _ in range(size):
            paper = f"s{n:03d}"
            # The backfill's papers: the first of three hosts of one paper each.
            extra = backfill_days if n in backfill_sites(sizes) else []
            group.append(build_site("founder-new", paper, days + extra, skin="swiper", missing={}))
            n += 1
        sites.append(group)
    servers = [ReplicaServer(group, host=f"127.0.0.{h + 2}") for h, group in enumerate(sites)]
    return servers, sites


def backfill_sites(sizes: list[int]) -> list[int]:
    """Indices of three papers alone on their hosts (the first three such)."""
    out, n = [], 0
    for size in sizes:
        if size == 1 and len(out) < 3:
            out.append(n)
        n += size
    return out


# --- processes ------------------------------------------------------------------------------


def spawn(name: str, command: list[str], env: dict, logs: Path) -> subprocess.Popen:
    with open(logs / f"{name}.log", "ab") as log:
        return subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=harness.ROOT,
        )


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM its process group, then SIGINT (a worker's second signal ends its runs), then
    SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)


def run(command: list[str], env: dict, timeout: float = 900) -> str:
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=harness.ROOT,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode:
        raise SystemExit(f"bench.scale: {' '.join(command[:3])} failed: {done.stderr[-2000:]}")
    return done.stdout


@contextlib.contextmanager
def databases():
    """A fresh PostgreSQL database for Prefect and one for the catalog, dropped at the end."""
    import psycopg

    names = [f"epaper_scale_{uuid.uuid4().hex[:8]}_{use}" for use in ("prefect", "catalog")]
    with psycopg.connect(f"postgresql://{POSTGRES}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f"CREATE DATABASE {name}")
    try:
        yield (
            f"postgresql+asyncpg://{POSTGRES}/{names[0]}",
            f"postgresql+psycopg://{POSTGRES}/{names[1]}",
        )
    finally:
        with psycopg.connect(f"postgresql://{POSTGRES}/postgres", autocommit=True) as conn:
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def prefect_server(home: Path, database_url: str, slot_wait: float):
    """`prefect server start` on 127.0.0.1; yields (its environment for clients, process)."""
    port = harness_free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": url,
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
        # A crawl waiting for its host asks again after at most this long (Prefect: 30 s).
        "PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": str(slot_wait),
        "PREFECT_WORKER_QUERY_SECONDS": "5",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    server = spawn(
        "prefect-server",
        ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
        home,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench.scale: prefect server did not start; see {home}")
            time.sleep(1)
        yield env, server
    finally:
        stop(server)


def harness_free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process and of its reaped children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Sampler:
    """Samples, every `interval` s, the processes under `roots`: the sum of their resident
    memory (its peak), each one's peak (VmHWM) by kind (worker, flow run, crawl), and the
    machine's memory in use (MemTotal - MemAvailable)."""

    def __init__(self, roots: list[int], interval: float = 0.5):
        self.roots, self.interval = set(roots), interval
        self.peak_total_mb = 0.0
        self.peaks: dict[int, tuple[str, float]] = {}
        self.machine_peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _kind(cmdline: str) -> str:
        if "spiders.crawl" in cmdline:
            return "crawl"
        if "pdftext" in cmdline:
            return "pdf text"
        if "worker" in cmdline and "start" in cmdline:
            return "worker"
        return "flow run"

    def _sample(self) -> None:
        parent, info = {}, {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
                status = Path(entry.path, "status").read_text()
                cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            pid = int(entry.name)
            parent[pid] = int(stat.rsplit(")", 1)[1].split()[1])
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            rss = int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
            hwm = int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
            info[pid] = (rss, hwm, cmdline)
        total = 0.0
        for pid, (rss, hwm, cmdline) in info.items():
            ancestor = pid
            while ancestor not in self.roots and ancestor in parent and ancestor > 1:
                ancestor = parent[ancestor]
            if ancestor in self.roots:
                total += rss
                kind = self._kind(cmdline)
                self.peaks[pid] = (kind, max(hwm, self.peaks.get(pid, (kind, 0))[1]))
        self.peak_total_mb = max(self.peak_total_mb, total)
        meminfo = dict(
            line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines()
        )
        used = int(meminfo["MemTotal"].split()[0]) - int(meminfo["MemAvailable"].split()[0])
        self.machine_peak_mb = max(self.machine_peak_mb, used / 1024)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def by_kind(self) -> dict[str, list[float]]:
        out = defaultdict(list)
        for kind, hwm in self.peaks.values():
            out[kind].append(hwm)
        return out

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# --- one batch ------------------------------------------------------------------------------


def start_workers(count: int, runs: int, env: dict, home: Path, tag: str) -> list:
    return [
        spawn(
            f"worker-{tag}-{i}",
            ["prefect", "worker", "start", "--pool", "epaper", "--name", f"scale-{tag}-{i}"]
            + ["--limit", str(runs)],
            env,
            home,
        )
        for i in range(count)
    ]


def wait_for(client, run_ids: list, timeout: float) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + timeout
    while True:
        runs = []
        for k in range(0, len(run_ids), 200):
            runs += client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids[k : k + 200])),
                limit=200,
            )
        if all(r.state_type.value in TERMINAL for r in runs) or time.monotonic() > deadline:
            return runs
        time.sleep(3)


def batch(
    name: str,
    triggers: list[tuple[str, dict]],
    workers: int,
    args,
    env: dict,
    worker_env: dict,
    server: subprocess.Popen,
    replicas: list,
    home: Path,
) -> dict:
    """Run the flow runs `triggers` ((deployment, parameters)) on `workers` workers; what it
    took."""
    from prefect.client.orchestration import SyncPrefectClient

    logged = [len(r.log) for r in replicas]
    cpu_before, server_before = children_cpu(), cpu_seconds(server.pid)
    processes = start_workers(workers, args.runs_per_worker, worker_env, home, name)
    with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
        ids = {
            d: client.read_deployment_by_name(d).id
            for d in {deployment for deployment, _ in triggers}
        }
        began = dt.datetime.now(dt.timezone.utc)
        try:
            with Sampler([p.pid for p in processes]) as sampler:
                run_ids = [
                    client.create_flow_run_from_deployment(ids[d], parameters=p).id
                    for d, p in triggers
                ]
                runs = wait_for(client, run_ids, timeout=args.timeout)
            server_cpu = cpu_seconds(server.pid) - server_before
        finally:  # an interrupted bench leaves no worker behind
            for process in processes:
                stop(process)
        worker_cpu = children_cpu() - cpu_before
        editions = edition_runs(client, runs)
        tasks = task_runs(client, [r.id for r in editions])
    requests = [len(r.log) - before for r, before in zip(replicas, logged)]
    return {
        "name": name,
        "workers": workers,
        "runs_per_worker": args.runs_per_worker,
        "began": began,
        "runs": runs,
        "editions": editions,
        "tasks": tasks,
        "requests_per_host": requests,
        "worker_cpu_s": worker_cpu,
        "server_cpu_s": server_cpu,
        "peak_workers_mb": sampler.peak_total_mb,
        "peak_machine_mb": sampler.machine_peak_mb,
        "peaks": sampler.by_kind(),
    }


def edition_runs(client, runs: list) -> list:
    """The edition runs: the runs themselves, or a backfill's runs under it."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    out = [r for r in runs if r.parameters.get("date")]
    parents = [r.id for r in runs if not r.parameters.get("date")]
    for offset in range(0, 100_000, 200) if parents else ():
        page = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=parents)
            ),
            limit=200,
            offset=offset,
        )
        out += page
        if len(page) < 200:
            break
    return out


def task_runs(client, run_ids: list) -> dict:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    by_run = defaultdict(dict)
    for k in range(0, len(run_ids), 20):  # 5 tasks a run; the API lists 200 at most
        for t in client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids[k : k + 20])),
            limit=200,
        ):
            by_run[t.flow_run_id][t.name.split()[0]] = t
    return by_run


def seconds(a, b) -> float:
    return (b - a).total_seconds()


def analyse(result: dict, sites: list[list], delay: float) -> dict:
    """The figures of one batch: throughput against the bound, CPU, memory, Prefect's share,
    where the slowest host's time went."""
    from storage.archive import open_archive

    editions = [r for r in result["editions"] if r.state_type.value == "COMPLETED"]
    failed = [(r.name, r.state.message) for r in result["editions"] if r not in editions]
    host_of = {site.paper: h for h, group in enumerate(sites) for site in group}
    crawls = defaultdict(list)  # host -> [(started, finished)] of its crawls
    crawl_s = {}
    with open_archive() as archive:
        for run in editions:
            paper, day = run.name.split()
            crawl = json.loads(archive.get(f"editions/{paper}/{day}/manifest.json"))["crawl"]
            span = tuple(dt.datetime.fromisoformat(crawl[k]) for k in ("started", "finished"))
            crawls[host_of[paper]].append(span)
            crawl_s[run.id] = seconds(*span)
    began, end = result["began"], max(r.end_time for r in result["runs"] if r.end_time)
    makespan = seconds(began, end)
    bound = [n * delay for n in result["requests_per_host"]]
    slowest = max(range(len(bound)), key=lambda h: bound[h])
    worst = sorted(crawls[slowest])
    starts, outside, waits = [], [], []
    for run in editions:
        tasks = result["tasks"].get(run.id, {})
        starts.append(seconds(run.expected_start_time, run.start_time))
        inside = sum(seconds(t.start_time, t.end_time) for t in tasks.values() if t.end_time)
        outside.append(seconds(run.start_time, run.end_time) - inside)
        if "fetch" in tasks:  # the fetch task's time beyond its crawl: waiting for the host
            waits.append(
                seconds(tasks["fetch"].start_time, tasks["fetch"].end_time) - crawl_s[run.id]
            )
    n, peaks = len(editions), result["peaks"]
    return {
        "batch": result["name"],
        "workers": result["workers"],
        "slots": result["workers"] * result["runs_per_worker"],
        "editions": n,
        "failed": failed,
        "makespan_s": makespan,
        "bound_s": bound[slowest],
        "ratio": bound[slowest] / makespan,
        "editions_per_hour": 3600 * n / makespan,
        "bound_per_hour": 3600 * n / bound[slowest],
        "requests": sum(result["requests_per_host"]),
        "worker_cpu_per_edition": result["worker_cpu_s"] / max(n, 1),
        "server_cpu_per_edition": result["server_cpu_s"] / max(n, 1),
        "cpu_busy": (result["worker_cpu_s"] + result["server_cpu_s"]) / makespan / os.cpu_count(),
        "peak_workers_mb": result["peak_workers_mb"],
        "peak_machine_mb": result["peak_machine_mb"],
        "flow_run_peak_mb": max(peaks.get("flow run", [0])),
        "flow_run_median_mb": statistics.median(peaks.get("flow run", [0])),
        "crawl_peak_mb": max(peaks.get("crawl", [0])),
        "worker_peak_mb": max(peaks.get("worker", [0])),
        "start_latency_s": statistics.median(starts) if starts else 0.0,
        "outside_tasks_s": statistics.median(outside) if outside else 0.0,
        "host_wait_s": statistics.median(waits) if waits else 0.0,
        "crawl_s": statistics.median(crawl_s.values()) if crawl_s else 0.0,
        "slowest_host": {
            "host": f"127.0.0.{slowest + 2}",
            "papers": len(sites[slowest]),
            "requests": result["requests_per_host"][slowest],
            "before_first_crawl_s": seconds(began, worst[0][0]) if worst else makespan,
            "crawling_s": sum(seconds(a, b) for a, b in worst),
            "between_crawls_s": sum(
                max(0.0, seconds(a[1], b[0])) for a, b in zip(worst, worst[1:])
            ),
            "after_last_crawl_s": seconds(worst[-1][1], end) if worst else 0.0,
        },
    }


# --- the run --------------------------------------------------------------------------------


def report(figures: list[dict], args, load: str) -> str:
    rows = [
        [
            f["batch"],
            f["workers"],
            f["slots"],
            f["editions"],
            f"{f['makespan_s']:.0f}",
            f"{f['bound_s']:.0f}",
            f"{f['editions_per_hour']:.0f} / {f['bound_per_hour']:.0f}",
            f"{f['ratio']:.2f}",
            f"{f['worker_cpu_per_edition']:.1f} + {f['server_cpu_per_edition']:.1f}",
            f"{f['cpu_busy']:.2f}",
            f"{f['peak_workers_mb'] / 1024:.1f} / {f['peak_machine_mb'] / 1024:.1f}",
            f"{f['flow_run_median_mb']:.0f} / {f['flow_run_peak_mb']:.0f}",
            f"{f['crawl_peak_mb']:.0f}",
        ]
        for f in figures
    ]
    lines = [
        f"# bench.scale: {harness.command_line()}",
        "",
        f"{harness.machine_line()}; load at the start: {load}",
        f"{args.sites} replica papers on {len(host_plan(args.sites))} hosts "
        f"(papers per host {HOST_SIZES} cycled), founder-new, {args.pages} pages, "
        f"{args.articles} articles a page, page PDFs ~{args.pdf_mb:g} MB, delay {args.delay:g} s; "
        f"{args.runs_per_worker} flow runs at once per worker.",
        "",
        harness.table(
            [
                "batch",
                "workers",
                "slots",
                "editions",
                "took s",
                "bound s",
                "editions/h (bound)",
                "ratio",
                "CPU s/edition: workers + server",
                "CPU busy",
                "peak GB: workers / machine",
                "flow run MB: median / max",
                "crawl MB",
            ],
            rows,
        ),
        "",
        "Prefect and the time of the slowest host (medians per edition):",
        "",
        harness.table(
            [
                "batch",
                "run start s",
                "outside tasks s",
                "fetch beyond its crawl s (host wait, crawl start)",
                "crawl s",
                "slowest host: papers, requests",
                "before 1st crawl s",
                "crawling s",
                "between crawls s",
                "after last s",
            ],
            [
                [
                    f["batch"],
                    f"{f['start_latency_s']:.1f}",
                    f"{f['outside_tasks_s']:.1f}",
                    f"{f['host_wait_s']:.1f}",
                    f"{f['crawl_s']:.0f}",
                    f"{f['slowest_host']['papers']}, {f['slowest_host']['requests']}",
                    f"{f['slowest_host']['before_first_crawl_s']:.0f}",
                    f"{f['slowest_host']['crawling_s']:.0f}",
                    f"{f['slowest_host']['between_crawls_s']:.0f}",
                    f"{f['slowest_host']['after_last_crawl_s']:.0f}",
                ]
                for f in figures
            ],
        ),
        "",
        "bound: the busiest host's requests (as the replica counted them) x the delay, the "
        "soonest any polite schedule ends the batch; ratio = bound / took. CPU: the workers' "
        "process trees (flow runs, crawls) and Prefect's server, per edition; CPU busy: both "
        f"over the batch's time and the machine's {os.cpu_count()} cores (other users' "
        "load not counted). Memory: the peak sum of resident memory of the workers' trees, "
        "and the machine's memory in use (all users); a flow run's and a crawl's own peak "
        "(VmHWM).",
    ]
    failed = [
        f"{name} ({why.split(': ', 1)[-1][:120]})" for f in figures for name, why in f["failed"]
    ]
    if failed:
        lines += ["", f"edition runs not Completed: {len(failed)}: {'; '.join(failed[:20])}"]
    return "\n".join(lines)


def span(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sites", type=int, default=50, help="replica papers (default 50)")
    parser.add_argument(
        "--workers", default="1,2,4", help="worker counts of the morning runs (default 1,2,4)"
    )
    parser.add_argument("--runs-per-worker", type=int, default=8, help="each worker's --limit")
    parser.add_argument("--dates", type=int, default=30, help="backfill dates (0: no backfill)")
    parser.add_argument("--delay", type=float, default=1.0, help="politeness delay, s")
    parser.add_argument("--pages", default="8-16")
    parser.add_argument("--articles", default="5-10", help="articles a page")
    parser.add_argument("--pdf-mb", type=float, default=1.0)
    parser.add_argument(
        "--slot-wait",
        type=float,
        default=5.0,
        help="the server's longest wait before a crawl asks its host again (Prefect: 30 s)",
    )
    parser.add_argument("--timeout", type=float, default=7200, help="per batch, s")
    parser.add_argument("--home", help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args(argv)
    # `timeout` or a kill ends the run as Ctrl-C does: servers stopped, databases dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    args.pages, args.articles = span(args.pages), span(args.articles)
    counts = [int(x) for x in args.workers.split(",") if x]
    days = [FIRST_DAY + dt.timedelta(days=k) for k in range(len(counts))]
    backfill_days = [days[-1] + dt.timedelta(days=1 + k) for k in range(args.dates)]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())

    from bench.pipeline_bench import heavy_pdfs
    from epaper import deployments
    from papers.catalogue import read_papers

    figures = []
    with contextlib.ExitStack() as stack:
        home = stack.enter_context(harness.scratch(args.home))
        stack.enter_context(heavy_pdfs(args.pdf_mb, keep=256))
        stack.enter_context(rich_editions(args.pages, args.articles))
        replicas, sites = build_replica(args, days, backfill_days)
        for replica in replicas:
            stack.enter_context(replica)
        entries = [
            site.paper_entry(replica.base_url)
            for replica, group in zip(replicas, sites)
            for site in group
        ]
        papers_file = home / "papers.yaml"
        papers_file.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
        prefect_db, catalog_url = stack.enter_context(databases())
        s3 = stack.enter_context(harness.s3_server(home, bucket="scale"))
        env, server = stack.enter_context(prefect_server(home, prefect_db, args.slot_wait))
        os.environ["PREFECT_API_URL"] = env["PREFECT_API_URL"]
        os.environ["EPAPER_CATALOG_URL"] = catalog_url
        prefect_yaml = home / "prefect.yaml"
        prefect_yaml.write_text(
            deployments.render(read_papers(str(papers_file)), str(papers_file)), encoding="utf-8"
        )
        print(run(["epaper", "setup-prefect", "--papers", str(papers_file)], env), end="")
        run(["prefect", "deploy", "--all", "--prefect-file", str(prefect_yaml)], env, timeout=1800)
        worker_env = {
            **env,
            **s3,
            "EPAPER_CATALOG_URL": catalog_url,
            "EPAPER_DOWNLOAD_DELAY": str(args.delay),
            "EPAPER_HOME": str(home / "workers"),
        }
        picked = [sites_flat(sites)[k] for k in backfill_sites(host_plan(args.sites))]
        backfill = [
            (
                "backfill/backfill",
                {"paper": site.paper, "start": str(backfill_days[0])}
                | {"end": str(backfill_days[-1])},
            )
            for site in picked
            if args.dates
        ]
        # The backfill right after the first morning, with its workers: the figures that
        # matter most come first on a machine whose time may run out.
        plan = [
            (
                f"morning-{count}w",
                count,
                [
                    (f"archive-edition/{site.paper}", {"date": day.isoformat()})
                    for site in sites_flat(sites)
                ],
            )
            for count, day in zip(counts, days)
        ]
        if args.dates:
            name = f"backfill-{len(picked)}x{args.dates}-{counts[0]}w"
            plan.insert(1, (name, counts[0], backfill))
        for name, count, triggers in plan:
            result = batch(name, triggers, count, args, env, worker_env, server, replicas, home)
            figures.append(analyse(result, sites, args.delay))
            print(report(figures[-1:], args, load).split("\n\n", 2)[2], flush=True)
        text = report(figures, args, load)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    return 0


def sites_flat(sites: list[list]) -> list:
    return [site for group in sites for site in group]


if __name__ == "__main__":
    sys.exit(main())
