"""Whole pipeline: throughput, where the time goes, Prefect's overhead, scaling, memory.

    python -m bench.pipeline_bench [--quick] [--only throughput,scaling,memory] [--json FILE]

Every edition goes through the real flow (`flows.archive.archive_edition`: a Prefect flow
run with its four tasks against a Prefect API server in a subprocess, the crawl in its own
process, SeaweedFS for S3, the SQLite dedupe catalog), politeness off, against replica
sites served on 127.0.0.1 by this process.

throughput  articles per second from fetch to published manifest over several editions
            (after one warm-up edition, reported apart), and the share of each step. The
            steps are timed inside their tasks (flows.steps), so "Prefect + glue" is the rest
            of the flow's wall time: task and flow runs, artifacts, opening the archive and
            catalog. Between the real runs the same flow runs empty (every step a no-op,
            no archive, no catalog): Prefect's own overhead per edition.
scaling     at each archive size (1k, 10k, 100k articles) a catalog holding that many synthetic
            archived articles, then new editions through the flow, the sizes taking turns
            (one edition against each catalog per round): time per edition must stay flat
            within 1.5x. Synthetic rows are written as assign writes them (shingle
            sets, band keys): a quarter are reprints of the day's wire stories (clusters of
            ~5 papers), the rest local stories sharing up to 12% of their shingles with a
            seed story. They are deterministic, so they are kept in .epaper/bench-cache and
            rebuilt only when the code they depend on changes (--fresh-catalogs: rebuild).
            The S3 bucket is not pre-filled (100k PUTs take ~10 min here); S3 lookups are
            by key.
memory      one worker process (a fresh `python -m bench.pipeline_bench worker`) archives a
            10-page and a 100-page edition (page PDFs of ~1 MB), then the 100-page one again
            (a conditional re-crawl): peak RSS (VmHWM) of the worker after each step and of its
            crawl subprocess, beside the bytes served.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402

STEPS = ("fetch", "clean", "dedupe", "publish")
EMPTY_RUNS = 3  # empty flow runs after each real edition (their times vary more)
SCALING_TARGET = 1.5

# synthetic catalog rows ------------------------------------------------------------------
ROWS_PER_DAY = 100  # ~10 papers of ~10 articles
WIRE_PER_DAY = 5  # the day's wire stories: the first rows of a day print them first
REPRINT_SHARE = 0.25  # of a day's other rows, reprints of one of its wire stories
TOPIC_SHARE = 0.12  # a local story shares up to this much with one seed story
FILL_BATCH = 2000


# --- timing the steps inside the flow ----------------------------------------------------


class StepClock:
    """Wraps flows.steps' functions (the tasks call them through the module) to time each
    step of the edition that is running."""

    def __init__(self):
        self.current: dict[str, float] = {}
        self.hwm: dict[str, float] = {}  # this process's peak RSS (MB) when the step ended

    def _wrap(self, name, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[name] = self.current.get(name, 0.0) + time.perf_counter() - start
                self.hwm[name] = (_status_kb("self", "VmHWM") or 0) / 1024

        return timed

    @contextlib.contextmanager
    def installed(self):
        from flows import steps

        names = {
            "fetch": "fetch_edition",
            "clean": "clean_edition",
            "dedupe": "dedupe_edition",
            "publish": "publish_edition",
            "pdf_text": "page_text",
        }
        saved = {attr: getattr(steps, attr) for attr in names.values()}
        try:
            for name, attr in names.items():
                setattr(steps, attr, self._wrap(name, saved[attr]))
            yield self
        finally:
            for attr, fn in saved.items():
                setattr(steps, attr, fn)


@contextlib.contextmanager
def empty_steps():
    """The same flow with every step a no-op and no archive or catalog: what is left is
    Prefect (flow run, four task runs, two artifacts) and the work folder."""
    import flows.archive as archive_flow
    from flows import steps

    def fetch(paper, date, workdir):
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        return {"started": now, "finished": now, "requests": 0, "bytes": 0}

    def publish(workdir, archive, paper, date, stats):
        return {
            "paper": paper,
            "date": date,
            "status": "complete",
            "pages": [],
            "articles": [],
            "skipped": [],
            "key": f"editions/{paper}/{date}/manifest.json",
            "changed": True,
        }

    class NoCatalog:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def close(self):
            pass

        def edition_lock(self, paper, date):
            return contextlib.nullcontext()

    def nothing(*args, **kwargs):
        return contextlib.nullcontext()

    patches = [
        (steps, "fetch_edition", fetch),
        (steps, "clean_edition", lambda workdir: 0),
        (steps, "dedupe_edition", lambda workdir, catalog: 0),
        (steps, "publish_edition", publish),
    ]
    # whatever the flow module opens around the steps: archive, catalog (and its lock)
    patches += [
        (archive_flow, name, value)
        for name, value in (("open_archive", nothing), ("Catalog", NoCatalog))
        if hasattr(archive_flow, name)
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, value in patches:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)


def archive_one(clock: StepClock, site, day, papers_file: str) -> dict:
    """One edition through the real flow; its wall time, step times and article count."""
    from flows.archive import archive_edition

    clock.current = {}
    start = time.perf_counter()
    result = archive_edition(site.paper, day.isoformat(), papers_file)
    wall = time.perf_counter() - start
    if result.get("status") != "complete":
        raise RuntimeError(f"{site.paper} {day}: {result.get('status')} {result.get('reason', '')}")
    out = {
        "edition": f"{site.paper} {day}",
        "wall": wall,
        "articles": len(result["articles"]),
        "pages": len(result["pages"]),
        **{s: clock.current.get(s, 0.0) for s in (*STEPS, "pdf_text")},
    }
    out["other"] = wall - sum(out[s] for s in STEPS)
    return out


def empty_one(site, day, papers_file: str) -> float:
    from flows.archive import archive_edition

    with empty_steps():
        start = time.perf_counter()
        archive_edition(site.paper, day.isoformat(), papers_file)
        return time.perf_counter() - start


# --- throughput -----------------------------------------------------------------------------


def throughput(home: Path, families: list[str], n_dates: int, pages: int, log) -> dict:
    from replica import ReplicaServer

    days = harness.dates(n_dates + 1, offset=10)
    sites = harness.build_sites(families, days, pages)
    clock = StepClock()
    with (
        ReplicaServer(sites) as server,
        clock.installed(),
        harness.environment(
            EPAPER_S3_BUCKET="bench-throughput",
            EPAPER_CATALOG_URL=f"sqlite:///{home / 'throughput.sqlite'}",
        ),
    ):
        papers_file = harness.write_papers_file(
            sites, server.base_url, home / "papers-throughput.yaml"
        )
        empty_one(
            sites[0], days[0], papers_file
        )  # the first flow run of a process sets up its client
        warm = archive_one(
            clock, sites[0], days[0], papers_file
        )  # first imports, jieba tables, ...
        log(f"  throughput warm-up {warm['edition']}: {warm['wall']:.1f} s")
        runs, empties = [], []
        for day in days[1:]:
            for site in sites:
                runs.append(archive_one(clock, site, day, papers_file))
                empty = [empty_one(site, day, papers_file) for _ in range(EMPTY_RUNS)]
                empties += empty
                log(
                    f"  throughput {runs[-1]['edition']}: {runs[-1]['wall']:.1f} s, "
                    f"{runs[-1]['articles']} articles,"
                    f" empty flow " + ", ".join(f"{e:.2f}" for e in empty) + " s"
                )
    total = {
        k: sum(r[k] for r in runs)
        for k in ("wall", "articles", "pages", *STEPS, "pdf_text", "other")
    }
    return {
        "editions": len(runs),
        "pages_per_edition": pages,
        "families": families,
        "runs": runs,
        "warmup": warm,
        "total": total,
        "articles_per_s": total["articles"] / total["wall"],
        "seconds_per_edition": total["wall"] / len(runs),
        "empty_flow_s": harness.median(empties),
        "empty_flow_runs": empties,
    }


def render_throughput(t: dict) -> str:
    total, n = t["total"], t["editions"]
    rows = []
    for step in STEPS:
        rate = total["articles"] / total[step] if total[step] else float("inf")
        rows.append(
            [
                step,
                f"{total[step] / n:.2f}",
                f"{100 * total[step] / total['wall']:.1f}%",
                f"{rate:.0f}",
            ]
        )
        if step == "publish":
            rows.append(
                [
                    "  of which page PDF text",
                    f"{total['pdf_text'] / n:.2f}",
                    f"{100 * total['pdf_text'] / total['wall']:.1f}%",
                    "",
                ]
            )
    rows.append(
        [
            "Prefect + glue (rest of the flow)",
            f"{total['other'] / n:.2f}",
            f"{100 * total['other'] / total['wall']:.1f}%",
            "",
        ]
    )
    rows.append(["whole flow", f"{total['wall'] / n:.2f}", "100%", f"{t['articles_per_s']:.1f}"])
    rows.append(
        [
            f"empty flow (Prefect alone), median of {len(t['empty_flow_runs'])} "
            f"({min(t['empty_flow_runs']):.2f}-{max(t['empty_flow_runs']):.2f} s)",
            f"{t['empty_flow_s']:.2f}",
            f"{100 * t['empty_flow_s'] / (total['wall'] / n):.1f}%",
            "",
        ]
    )
    return "\n".join(
        [
            f"{n} editions ({', '.join(t['families'])}; {t['pages_per_edition']} pages, "
            f"{total['articles'] / n:.0f} articles each), warm worker: "
            f"{t['articles_per_s']:.1f} articles/s, {t['seconds_per_edition']:.1f} s per edition. "
            f"First edition of the process (warm-up, not counted): {t['warmup']['wall']:.1f} s.",
            "",
            harness.table(["step", "s per edition", "share of wall", "articles/s"], rows),
        ]
    )


# --- scaling --------------------------------------------------------------------------------


@cache
def _topics():
    import numpy as np

    from replica.corpus import seed_articles
    from text.dedupe import shingles

    sets = [
        shingles("\n".join(a.paragraphs))
        for a in seed_articles()
        if a.kind == "news" and len(a.paragraphs) > 1
    ]
    return [s for s in sets if len(s) >= 30], np.array([len(s) for s in sets if len(s) >= 30])


def _edit(rng, base, keep_lo: float, keep_hi: float, new_hi: float):
    """A reprint's 3-grams in text order: most of the story's (trims, edits), in its
    order, and a few of its own put in among them."""
    import numpy as np

    keep = base[rng.random(len(base)) < rng.uniform(keep_lo, keep_hi)]
    own = rng.integers(0, 1 << 32, int(len(base) * rng.uniform(0, new_hi)), dtype=np.uint64).astype(
        np.uint32
    )
    return np.insert(keep, rng.integers(0, len(keep) + 1, len(own)), own)


def _synthetic(i: int) -> tuple[str, str, str, object, dict, list[int]]:
    """Row i of the synthetic archive: (key, paper, date, fingerprint, record, the band
    keys it adds to the index: a reprint only those its cluster lacks, as assign does)."""
    import numpy as np

    from text.dedupe import Fingerprint, band_keys

    topics, sizes = _topics()
    day, pos = divmod(i, ROWS_PER_DAY)
    date = (dt.date(2020, 1, 1) + dt.timedelta(days=day)).isoformat()
    paper = f"syn-{pos % 10:02d}"
    key = f"articles/{paper}/{date}/{pos // 10 + 1:02d}/{i}.json"
    rng = np.random.default_rng(i)
    record = {"cluster": key, "canonical": key, "similarity": 1.0, "exact": False}
    canonical_bands: set[int] = set()
    if pos >= WIRE_PER_DAY and rng.random() < REPRINT_SHARE / (1 - WIRE_PER_DAY / ROWS_PER_DAY):
        story = int(rng.integers(WIRE_PER_DAY))
        canon = day * ROWS_PER_DAY + story
        canon_key = f"articles/syn-{story % 10:02d}/{date}/01/{canon}.json"
        base = _wire(day, story)
        grams = _edit(rng, base, 0.7, 1.0, 0.15)
        record = {"cluster": canon_key, "canonical": canon_key, "similarity": 0.8, "exact": False}
        canonical_bands = set(band_keys(base))
    elif pos < WIRE_PER_DAY:
        grams = _wire(day, pos)
    else:
        topic = topics[rng.integers(len(topics))]
        n = int(np.clip(rng.choice(sizes) * rng.lognormal(0, 0.4), 30, 4000))
        m = min(int(n * rng.uniform(0, TOPIC_SHARE)), len(topic))
        grams = rng.permutation(
            np.concatenate(
                [
                    rng.choice(topic, m, replace=False),
                    rng.integers(0, 1 << 32, n - m, dtype=np.uint64).astype(np.uint32),
                ]
            )
        )
    fp = Fingerprint(rng.bytes(32).hex(), np.unique(grams), band_keys(grams))
    return key, paper, date, fp, record, [b for b in fp.bands if b not in canonical_bands]


def _wire(day: int, story: int):
    """The 3-grams, in text order, of one wire story of one day as its first paper printed it."""
    import numpy as np

    topics, sizes = _topics()
    rng = np.random.default_rng([day, story, 7])
    n = int(np.clip(rng.choice(sizes) * rng.lognormal(0, 0.3), 60, 3000))
    return rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)


def _synthetic_rows(span: tuple[int, int]) -> list[tuple[dict, list[int]]]:
    from storage.catalog import row_values

    out = []
    for i in range(*span):
        key, paper, date, fp, record, stored = _synthetic(i)
        out.append((row_values(key, paper, date, fp, record, stored), stored))
    return out


def fill_catalog(url: str, start: int, stop: int) -> float:
    """Synthetic rows start..stop into the catalog, as assign writes them, generated by a
    pool and written in batches. The catalog has no bulk API; its tables are public, and
    on SQLite the rows go in through the driver's executemany (SQLAlchemy's per-row dicts
    would take longer than generating them)."""
    from sqlalchemy import create_engine, func, insert, select

    from storage.catalog import Catalog, articles, bands

    Catalog(url).close()  # the schema
    began = time.perf_counter()
    engine = create_engine(url)
    now = dt.datetime.now(dt.timezone.utc)
    sqlite = engine.dialect.name == "sqlite"
    columns = [c.name for c in articles.columns]
    convert = {c.name: c.type.bind_processor(engine.dialect) for c in articles.columns}
    chunks = [(i, min(i + FILL_BATCH, stop)) for i in range(start, stop, FILL_BATCH)]
    # spawn, not fork: this process runs threads (Prefect's, the replica server's), and a
    # fork can copy a lock one of them holds, hanging the child
    with (
        mp.get_context("spawn").Pool(os.cpu_count(), initializer=_topics) as pool,
        engine.begin() as conn,
    ):
        seq = conn.execute(select(func.coalesce(func.max(articles.c.seq), 0))).scalar()
        for rows in pool.imap(_synthetic_rows, chunks):
            if sqlite:
                values, band_rows = [], []
                for v, bs in rows:
                    seq += 1
                    row = {**v, "seq": seq, "archived_at": now}
                    values.append(
                        tuple(convert[c](row[c]) if convert[c] else row[c] for c in columns)
                    )
                    band_rows += [(b, seq) for b in bs]
                cursor = conn.connection.dbapi_connection.cursor()
                cursor.executemany(
                    f"INSERT INTO {articles.name} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})",
                    values,
                )
                cursor.executemany(
                    f"INSERT INTO {bands.name} (band, article) VALUES (?, ?)", sorted(band_rows)
                )
                cursor.close()
            else:
                seqs = (
                    conn.execute(
                        insert(articles).returning(articles.c.seq, sort_by_parameter_order=True),
                        [{**v, "archived_at": now} for v, _ in rows],
                    )
                    .scalars()
                    .all()
                )
                conn.execute(
                    insert(bands),
                    sorted(
                        ({"band": b, "article": s} for s, (_, bs) in zip(seqs, rows) for b in bs),
                        key=lambda r: r["band"],
                    ),
                )
    engine.dispose()
    return time.perf_counter() - began


CACHE = harness.ROOT / ".epaper" / "bench-cache"


def _generator_version() -> str:
    """Changes with anything the synthetic rows depend on: the fingerprint and catalog code,
    this generator, the replica's seed stories."""
    import inspect

    digest = hashlib.sha256()
    files = [
        harness.ROOT / "text" / "dedupe.py",
        harness.ROOT / "storage" / "catalog.py",
        harness.ROOT / "replica" / "corpus.py",
        *sorted((harness.ROOT / "replica" / "data").iterdir()),
    ]
    for path in files:
        digest.update(path.read_bytes())
    for fn in (_topics.__wrapped__, _edit, _synthetic, _wire, _synthetic_rows, fill_catalog):
        digest.update(inspect.getsource(fn).encode())
    digest.update(repr((ROWS_PER_DAY, WIRE_PER_DAY, REPRINT_SHARE, TOPIC_SHARE)).encode())
    return digest.hexdigest()[:12]


def _copy_sqlite(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    source, target = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def synthetic_catalog(size: int, cache: Path = CACHE) -> tuple[Path, float]:
    """A catalog of `size` synthetic articles, and the seconds spent filling it (0 when
    reused: they are deterministic, so they are kept under .epaper/bench-cache, rebuilt
    when the code they depend on changes, grown from the largest smaller one)."""
    version = _generator_version()
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob("catalog-*"):
        if not stale.name.startswith(f"catalog-{version}-") or stale.suffix != ".sqlite":
            stale.unlink()
    target = cache / f"catalog-{version}-{size}.sqlite"
    if target.exists():
        return target, 0.0
    smaller = sorted(
        (int(p.stem.rsplit("-", 1)[1]), p) for p in cache.glob(f"catalog-{version}-*.sqlite")
    )
    smaller = [(n, p) for n, p in smaller if n < size]
    building = cache / f"catalog-{version}-{size}.building"
    begun = 0
    if smaller:
        begun, path = smaller[-1]
        _copy_sqlite(path, building)
    else:
        building.unlink(missing_ok=True)
    seconds = fill_catalog(f"sqlite:///{building}", begun, size)
    db = sqlite3.connect(building)
    db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    db.close()
    building.rename(target)
    return target, seconds


def scaling(
    home: Path,
    sizes: list[int],
    families: list[str],
    per_size: int,
    pages: int,
    log,
    warm: bool = False,
    cache: Path = CACHE,
) -> dict:
    """A copy of the synthetic catalog of each size, then `per_size` rounds: in each, one
    new edition (of the round's family) through the flow against every catalog in turn,
    the order rotating, so a slow spell of a shared machine hits every size alike.
    `warm`: this process has archived editions already, else one warm-up edition first."""
    from replica import ReplicaServer

    days = harness.dates(per_size * len(sizes) + 1, offset=100)
    sites = harness.build_sites(families, days, pages)
    warmup_day, days = days[0], days[1:]
    catalogs, fills = {}, {}
    for size in sizes:
        snapshot, fills[size] = synthetic_catalog(size, cache)
        log(
            f"  scaling: {size:,} synthetic articles "
            + (f"generated in {fills[size]:.0f} s" if fills[size] else "(cached)")
        )
        catalogs[size] = home / f"scaling-{size}.sqlite"
        _copy_sqlite(snapshot, catalogs[size])
    clock = StepClock()
    runs: dict[int, list[dict]] = {size: [] for size in sizes}
    with (
        ReplicaServer(sites) as server,
        clock.installed(),
        harness.environment(EPAPER_S3_BUCKET="bench-scaling"),
    ):
        papers_file = harness.write_papers_file(
            sites, server.base_url, home / "papers-scaling.yaml"
        )
        # a warm process, as in the throughput section: first imports and tables are not
        # the archive's size
        if not warm:
            with harness.environment(
                EPAPER_CATALOG_URL=f"sqlite:///{home / 'scaling-warmup.sqlite'}"
            ):
                archive_one(clock, sites[0], warmup_day, papers_file)
        for r in range(per_size):
            site = sites[r % len(sites)]
            order = sizes[r % len(sizes) :] + sizes[: r % len(sizes)]
            for j, size in enumerate(order):
                with harness.environment(EPAPER_CATALOG_URL=f"sqlite:///{catalogs[size]}"):
                    runs[size].append(
                        archive_one(clock, site, days[r * len(sizes) + j], papers_file)
                    )
                log(
                    f"  scaling {size:,}: {runs[size][-1]['edition']} "
                    f"{runs[size][-1]['wall']:.1f} s"
                )
    for catalog in catalogs.values():
        catalog.unlink()
    rounds = [
        {
            "size": size,
            "fill_s": fills[size],
            "runs": rs,
            "wall": harness.median([x["wall"] for x in rs]),
            "dedupe_ms": 1e3 * sum(x["dedupe"] for x in rs) / sum(x["articles"] for x in rs),
            "articles": sum(x["articles"] for x in rs) / len(rs),
        }
        for size, rs in runs.items()
    ]
    first = rounds[0]
    for r in rounds:
        r["x_wall"] = r["wall"] / first["wall"]
        r["x_dedupe"] = r["dedupe_ms"] / first["dedupe_ms"]
    return {
        "rounds": rounds,
        "ratio": max(r["x_wall"] for r in rounds),
        "per_size": per_size,
        "pages": pages,
        "families": families,
    }


def render_scaling(s: dict) -> str:
    rows = [
        [
            f"{r['size']:,}",
            len(r["runs"]),
            f"{r['articles']:.0f}",
            f"{r['wall']:.2f}",
            f"{r['x_wall']:.2f}",
            f"{r['dedupe_ms']:.1f}",
            f"{r['x_dedupe']:.2f}",
            f"{r['fill_s']:.0f}" if r["fill_s"] else "cached",
        ]
        for r in s["rounds"]
    ]
    verdict = "met" if s["ratio"] <= SCALING_TARGET else "MISSED"
    return "\n".join(
        [
            harness.table(
                [
                    "archived articles",
                    "editions",
                    "articles each",
                    "s per edition (median)",
                    "x first",
                    "dedupe ms/article",
                    "x first",
                    "synthetic rows made in s",
                ],
                rows,
            ),
            "",
            "time per edition at the slowest archive size / the smallest: "
            f"{s['ratio']:.2f} (target <= {SCALING_TARGET}: "
            f"{verdict}). Editions: {', '.join(s['families'])}, {s['pages']} pages, "
            "each a new date; the sizes take "
            f"turns, one edition each per round.",
        ]
    )


# --- memory ---------------------------------------------------------------------------------


def _status_kb(pid: int | str, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class ChildPeaks:
    """Samples the peak RSS (VmHWM) of this process's children until stopped.

    getrusage(RUSAGE_CHILDREN) cannot tell here: Linux carries the RSS high-water mark
    of the process that execs into the new program, so a child started from a 500 MB
    worker reports at least the worker's RSS. VmHWM belongs to the child's own memory.
    """

    def __init__(self, interval: float = 0.1):
        import threading

        self.interval = interval
        self.peak_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _children(self) -> list[int]:
        me, out = os.getpid(), []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                    out.append(int(entry.name))
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._children():
                hwm = _status_kb(pid, "VmHWM")
                if hwm:
                    self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), hwm)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def worker_main(argv: list[str]) -> int:
    """A worker process archiving one edition; prints its own peak RSS and its crawl's."""
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_bench worker")
    parser.add_argument("--paper", required=True)
    parser.add_argument("--date", required=True)
    parser.add_argument("--papers", required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    from flows.archive import archive_edition

    baseline = _status_kb("self", "VmHWM") / 1024
    clock = StepClock()
    with clock.installed(), ChildPeaks() as children:
        flow_start = time.perf_counter()
        result = archive_edition(args.paper, args.date, args.papers)
        flow = time.perf_counter() - flow_start
    stats = result.get("crawl", {})
    print(
        json.dumps(
            {
                "worker_peak_mb": _status_kb("self", "VmHWM") / 1024,
                "worker_baseline_mb": baseline,
                "crawl_peak_mb": max(children.peak_kb.values(), default=0) / 1024,
                "children": len(children.peak_kb),
                "startup_s": flow_start - started,
                "flow_s": flow,
                "steps": clock.current,
                "hwm": clock.hwm,
                "status": result.get("status"),
                "pages": len(result.get("pages", [])),
                "articles": len(result.get("articles", [])),
                "requests": stats.get("requests"),
                "bytes": stats.get("bytes"),
            }
        )
    )
    return 0


@contextlib.contextmanager
def heavy_pdfs(megabytes: float = 1.0, keep: int | None = None):
    """Replica page PDFs of a real page's weight: the page's text over a photo (an
    incompressible JPEG of about `megabytes`). The bundled replica's text-only PDFs weigh
    ~10 KB, so that a 100-page edition would be 2 MB: too little to tell streaming from
    holding the edition in memory. `keep`: at most that many PDFs cached (None: all)."""
    import io
    import textwrap

    import numpy as np
    from PIL import Image
    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    import replica.site as replica_site
    from replica.pdf import FONT

    side = int(1050 * megabytes**0.5)
    buf = io.BytesIO()
    Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    ).save(buf, "JPEG", quality=90)
    photo = buf.getvalue()
    cache: dict = {}

    def page_pdf(paper_name, day, page):
        key = (paper_name, day, page.no)
        if key not in cache:
            if keep is not None and len(cache) >= keep:
                del cache[next(iter(cache))]  # the oldest
            out = io.BytesIO()
            c = canvas.Canvas(out, pagesize=A4, invariant=1)
            c.drawImage(ImageReader(io.BytesIO(photo)), 300, 60, width=250, height=250)
            y = A4[1] - 50
            lines = [f"{paper_name}  {day:%Y年%m月%d日}  第{page.no:02d}版：{page.name}"]
            for story in page.stories:
                lines += [
                    story.article.title,
                    *textwrap.wrap("".join(story.article.paragraphs[:2]), 36),
                ]
            for line in lines:
                if y < 50:
                    break
                c.setFont(FONT, 11)
                c.drawString(40, y, line)
                y -= 16
            c.showPage()
            c.save()
            cache[key] = out.getvalue()
        return cache[key]

    saved, saved_a85 = replica_site.page_pdf, rl_config.useA85
    replica_site.page_pdf, rl_config.useA85 = page_pdf, 0  # binary streams: a JPEG stays its size
    try:
        yield
    finally:
        replica_site.page_pdf, rl_config.useA85 = saved, saved_a85


def memory(
    home: Path, page_counts: list[int], log, pdf_mb: float = 1.0, recrawl: bool = True
) -> dict:
    """A worker archives an edition of each size; the largest is then archived again
    (`recrawl`; unchanged: a conditional re-crawl against its archived WARC)."""
    from replica import ReplicaServer

    out = []
    with (
        heavy_pdfs(pdf_mb),
        harness.environment(
            EPAPER_S3_BUCKET="bench-memory",
            EPAPER_CATALOG_URL=f"sqlite:///{home / 'memory.sqlite'}",
        ),
    ):
        for k, pages in enumerate(page_counts):
            day = harness.dates(1, offset=300 + k)[0]
            sites = harness.build_sites(["founder-new"], [day], pages)
            with ReplicaServer(sites) as server:
                papers_file = harness.write_papers_file(
                    sites, server.base_url, home / f"papers-memory{pages}.yaml"
                )
                cmd = [
                    sys.executable,
                    "-m",
                    "bench.pipeline_bench",
                    "worker",
                    "--paper",
                    sites[0].paper,
                    "--date",
                    day.isoformat(),
                    "--papers",
                    papers_file,
                ]
                for again in [False, True] if recrawl and k == len(page_counts) - 1 else [False]:
                    sent, requests = server.bytes_sent, server.requests
                    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=harness.ROOT)
                    if proc.returncode != 0:
                        raise RuntimeError(
                            f"memory worker failed: {proc.stderr.strip().splitlines()[-3:]}"
                        )
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    r.update(
                        pages_built=pages,
                        again=again,
                        served_mb=(server.bytes_sent - sent) / 1e6,
                        served=server.requests - requests,
                    )
                    out.append(r)
                    log(
                        f"  memory {pages} pages{' again' if again else ''}: "
                        f"worker {r['worker_peak_mb']:.0f} MB, "
                        f"crawl {r['crawl_peak_mb']:.0f} MB, start {r['startup_s']:.0f} s, "
                        f"flow {r['flow_s']:.0f} s: "
                        + ", ".join(f"{k} {v:.1f} s" for k, v in r["steps"].items())
                    )
    small, large = out[0], out[len(page_counts) - 1]
    return {
        "runs": out,
        "pdf_mb": pdf_mb,
        "small": small,
        "large": large,
        "again": out[-1] if recrawl else None,
        "worker_growth": large["worker_peak_mb"] / small["worker_peak_mb"],
        "crawl_growth": large["crawl_peak_mb"] / small["crawl_peak_mb"],
        "bytes_growth": large["served_mb"] / small["served_mb"],
    }


def render_memory(m: dict) -> str:
    rows = []
    for r in m["runs"]:
        hwm = r.get("hwm", {})
        rows.append(
            [
                f"{r['pages_built']}" + (" again (re-crawl)" if r["again"] else ""),
                r["articles"],
                r["served"],
                f"{r['served_mb']:.1f}",
                f"{r['worker_baseline_mb']:.0f}",
                f"{hwm.get('fetch', 0):.0f}",
                f"{hwm.get('dedupe', 0):.0f}",
                f"{r['worker_peak_mb']:.0f}",
                f"{r['crawl_peak_mb']:.0f}",
                f"{r['flow_s']:.0f}",
            ]
        )
    return "\n".join(
        [
            harness.table(
                [
                    "pages",
                    "articles",
                    "requests",
                    "MB served",
                    "worker MB: before flow",
                    "after fetch",
                    "after dedupe",
                    "peak",
                    "crawl process peak MB",
                    "flow s",
                ],
                rows,
            ),
            "",
            f"Page PDFs of ~{m['pdf_mb']:g} MB (text over a photo). Largest / smallest edition: "
            f"{m['bytes_growth']:.1f}x "
            f"the bytes, worker peak {m['worker_growth']:.2f}x, "
            f"crawl peak {m['crawl_growth']:.2f}x. Memory is the "
            f"high-water mark of resident memory (VmHWM): the worker's own after each step, "
            f"and its crawl subprocess's "
            f"(sampled every 0.1 s). A re-crawl's requests are conditional: 304s carry no body.",
        ]
    )


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        sys.exit(worker_main(argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer editions, archive sizes 1k and 10k"
    )
    parser.add_argument("--only", default="throughput,scaling,memory")
    parser.add_argument(
        "--sizes", help="archive sizes for scaling, ascending (default 1000,10000,100000)"
    )
    parser.add_argument(
        "--fresh-catalogs",
        action="store_true",
        help="generate the synthetic catalogs anew, in the scratch folder",
    )
    parser.add_argument("--workdir", help="scratch EPAPER_HOME (default: a temporary folder)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    only = args.only.split(",")
    quick = args.quick
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([1000, 10000] if quick else [1000, 10000, 100000])
    )

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    # SIGTERM unwinds like Ctrl+C, so the servers this bench started are stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    results = {"command": harness.command_line(), "machine": harness.machine()}
    with harness.scratch(args.workdir) as home, harness.s3_server(home), harness.prefect_api():
        if "throughput" in only:
            results["throughput"] = throughput(
                home,
                ["founder-new", "paperindex", "jfdaily"]
                if quick
                else ["founder-new", "founder-classic", "jfdaily"],
                1 if quick else 2,
                8,
                log,
            )
        if "scaling" in only:
            results["scaling"] = scaling(
                home,
                sizes,
                ["founder-new", "xmwb"],
                2 if quick else 6,
                8,
                log,
                warm="throughput" in results,
                cache=home / "catalogs" if args.fresh_catalogs else CACHE,
            )
        if "memory" in only:
            results["memory"] = memory(
                home, [5, 25] if quick else [10, 100], log, recrawl=not quick
            )

    print(f"pipeline bench: {results['command']}  [{harness.machine_line()}]")
    for name, render in (
        ("throughput", render_throughput),
        ("scaling", render_scaling),
        ("memory", render_memory),
    ):
        if name in results:
            print(f"\n## {name}\n")
            print(render(results[name]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
