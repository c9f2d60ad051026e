"""Every benchmark, one table: `python -m bench.run_all [--quick]` writes docs/benchmarks.md.

Runs each bench as its own command (printed beside every figure it produced), one after
the other so they never compete for the cores, collects the headline figures into one
table with their targets, and writes the table and every bench's full output to
docs/benchmarks.md. Figures are ratios measured side by side within one run wherever a
comparison is made; absolute times on a shared machine are noise, shown for scale only.

    --quick   smaller editions and archives, fewer repeats (~5 min on 2 quiet cores)
    --only    a comma-separated subset of: fetch, pipeline, clean, dedupe, recrawl
    --postgres  the dedupe bench on the local PostgreSQL as well as SQLite
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402

DOC = harness.ROOT / "docs" / "benchmarks.md"
BENCHES = ("fetch", "pipeline", "clean", "dedupe", "recrawl")


def postgres_up(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def commands(quick: bool, tmp: Path, postgres: bool = False) -> dict[str, list[str]]:
    """The command line of each bench (as typed from the repository root)."""
    q = ["--quick"] if quick else []
    dedupe = (
        ["--sizes", "1000,10000", "--backends", "sqlite", "--sets", "1"]
        if quick
        else [
            "--sizes",
            "10000,100000,1000000",
            "--backends",
            "sqlite,postgres" if postgres and postgres_up() else "sqlite",
            "--sets",
            "2",
        ]
    )
    out = {
        "fetch": ["-m", "bench.fetch_bench", *q, "--json", str(tmp / "fetch.json")],
        "pipeline": ["-m", "bench.pipeline_bench", *q, "--json", str(tmp / "pipeline.json")],
        "clean": ["-m", "bench.clean_bench", "--seconds", "1" if quick else "3"],
        "dedupe": ["-m", "bench.dedupe_bench", *dedupe],
        "recrawl": ["-m", "bench.recrawl_bench"],
    }
    return {
        k: v
        for k, v in out.items()
        if k != "recrawl" or (harness.ROOT / "bench" / "recrawl_bench.py").exists()
    }


def shown(cmd: list[str]) -> str:
    """The command as a reader reruns it: json scratch files left out."""
    if "--json" in cmd:
        i = cmd.index("--json")
        cmd = cmd[:i] + cmd[i + 2 :]
    return "python " + " ".join(cmd)


def run(name: str, cmd: list[str], timeout: float) -> dict:
    print(f"== {name}: {shown(cmd)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, *cmd],
            cwd=harness.ROOT,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            timeout=timeout,
        )
        code, stdout = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as exc:
        code, stdout = (
            "timeout",
            (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or ""),
        )
    seconds = time.perf_counter() - start
    print(f"   {name} finished in {seconds:.0f} s (exit {code})", file=sys.stderr, flush=True)
    return {"name": name, "command": shown(cmd), "exit": code, "stdout": stdout, "seconds": seconds}


# --- the headline figures of each bench -----------------------------------------------------

NOTES = """\
## How these are measured, and what they leave out

- Everything runs on this machine: the replica sites (a Python HTTP server in the bench
  process), the crawl processes, SeaweedFS, the Prefect API server and the SQLite catalog
  share its cores. Politeness is off (EPAPER_DOWNLOAD_DELAY=0): real runs wait 1 s or more
  per request, so there the fetch is the whole story and the rest is noise.
- fetch: each contender's crawl is a fresh process, as the flow runs it; the times include
  the process start. "In Scrapy" is the time between Scrapy's start and finish; "CPU" the
  crawl process's user + system seconds, the steadiest figure when the machine is shared.
  `python -m bench.fetch_bench --ablation` shows what each of our parts costs.
- pipeline: steps are timed inside their Prefect tasks; "Prefect + glue" is the rest of the
  flow's wall time. The replica's editions carry ~2 articles a page (real ones 5-10), so
  per-edition costs weigh more per article here than in production.
- scaling: the catalog is pre-filled with synthetic rows; the S3 bucket is not (its
  lookups are by key). Time per edition is a median over a few editions: a difference
  under ~20% is noise on a shared machine; the dedupe step's own ms/article is the
  figure that would show the catalog's growth first.
- memory: the replica's page PDFs are replaced by ~1 MB ones (text over a photo), so an
  edition weighs what a real one does; peaks are VmHWM of the worker and of its crawl.
"""


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def fetch_rows(r: dict, data: dict) -> list[list[str]]:
    from bench.fetch_bench import TARGET

    return [
        [
            "fetch",
            f"our crawl + upload / bare Scrapy, same editions ({data['editions']} editions, "
            f"{data['pages']} pages, {data['requests']} requests)",
            f"{data['ratio']:.2f}x",
            f"<= {TARGET}x",
            verdict(data["ratio"] <= TARGET),
            r["command"],
        ],
        [
            "fetch",
            "the same, time between Scrapy's start and finish only; "
            "CPU seconds of the crawl process",
            f"{data['ours_ratio_scrapy']:.2f}x; {data['ours_ratio_cpu']:.2f}x",
            "",
            "",
            r["command"],
        ],
    ]


def pipeline_rows(r: dict, data: dict) -> list[list[str]]:
    from bench.pipeline_bench import SCALING_TARGET, STEPS

    rows, cmd = [], r["command"]
    t = data.get("throughput")
    if t:
        total, n = t["total"], t["editions"]
        rows.append(
            [
                "pipeline",
                f"articles/s from fetch to published manifest, warm worker ({n} editions, "
                f"{total['articles'] / n:.0f} articles each)",
                f"{t['articles_per_s']:.1f}",
                "",
                "",
                cmd,
            ]
        )
        shares = ", ".join(f"{s} {100 * total[s] / total['wall']:.0f}%" for s in STEPS)
        rows.append(
            [
                "pipeline",
                "share of the flow's time per step",
                shares + f", Prefect + glue {100 * total['other'] / total['wall']:.0f}%",
                "",
                "",
                cmd,
            ]
        )
        rows.append(
            [
                "pipeline",
                "Prefect alone: the same flow run empty, per edition, median (range); "
                "share of a real edition",
                f"{t['empty_flow_s']:.2f} s "
                f"({min(t['empty_flow_runs']):.2f}-{max(t['empty_flow_runs']):.2f}); "
                f"{100 * t['empty_flow_s'] / t['seconds_per_edition']:.0f}%",
                "",
                "",
                cmd,
            ]
        )
    s = data.get("scaling")
    if s:
        first, last = s["rounds"][0], s["rounds"][-1]
        rows.append(
            [
                "pipeline",
                f"time per edition at the slowest archive size up to {last['size']:,} / at "
                f"{first['size']:,} archived articles",
                f"{s['ratio']:.2f}x (at {last['size']:,}: {last['x_wall']:.2f}x, dedupe step "
                f"{last['x_dedupe']:.2f}x)",
                f"<= {SCALING_TARGET}x",
                verdict(s["ratio"] <= SCALING_TARGET),
                cmd,
            ]
        )
    m = data.get("memory")
    if m:
        small, large, again = m["small"], m["large"], m["again"]
        rows.append(
            [
                "pipeline",
                f"peak RSS of one worker archiving a {large['pages_built']}-page edition "
                f"({large['served_mb']:.0f} MB): worker / its crawl process",
                f"{large['worker_peak_mb']:.0f} / {large['crawl_peak_mb']:.0f} MB",
                "bounded",
                verdict(m["worker_growth"] < 1.5 and m["crawl_growth"] < 1.5),
                cmd,
            ]
        )
        rows.append(
            [
                "pipeline",
                f"the same at {small['pages_built']} pages ({small['served_mb']:.0f} MB); "
                f"ratio {large['pages_built']} / {small['pages_built']} pages",
                f"{small['worker_peak_mb']:.0f} / {small['crawl_peak_mb']:.0f} MB; "
                f"{m['worker_growth']:.2f}x / {m['crawl_growth']:.2f}x "
                f"for {m['bytes_growth']:.0f}x the bytes",
                "",
                "",
                cmd,
            ]
        )
        if again:
            rows.append(
                [
                    "pipeline",
                    f"the {large['pages_built']}-page edition archived again (conditional "
                    "re-crawl): worker / crawl",
                    f"{again['worker_peak_mb']:.0f} / {again['crawl_peak_mb']:.0f} MB",
                    "bounded",
                    verdict(
                        again["worker_peak_mb"] < 1.5 * small["worker_peak_mb"]
                        and again["crawl_peak_mb"] < 1.5 * small["crawl_peak_mb"]
                    ),
                    cmd,
                ]
            )
        rows.append(
            [
                "pipeline",
                "a fresh worker process (a process work pool starts one per flow run): start-up "
                f"before the flow; {small['pages_built']}-page edition's flow (dedupe step, cold)",
                f"{small['startup_s']:.1f} s; {small['flow_s']:.1f} s "
                f"({small['steps'].get('dedupe', 0):.1f} s)",
                "",
                "",
                cmd,
            ]
        )
    return rows


def clean_rows(r: dict) -> list[list[str]]:
    rates = dict(re.findall(r"^(\S.*?)\s{2,}([\d.]+)\s+[\d.]+\s*$", r["stdout"], re.M))
    ours = next((float(v) for k, v in rates.items() if k.startswith("ours")), None)
    if ours is None:
        return []
    rows = [["clean", "ours, articles/s on one core", f"{ours:.0f}", "", "", r["command"]]]
    for name, value in rates.items():
        if not name.startswith("ours"):
            rows.append(
                [
                    "clean",
                    f"ours / {name} (speed)",
                    f"{ours / float(value):.2f}x",
                    "",
                    "",
                    r["command"],
                ]
            )
    return rows


def dedupe_rows(r: dict) -> list[list[str]]:
    """The dedupe bench's table, read by its header (its columns change): the first column
    is left-aligned, the others right-aligned, so a column's name ends where its values do.
    Targets of the dedupe issue: >= 300 articles per core with 100k archived, 1M archived
    at most 2x the time per article of 10k, memory flat, pair P >= 0.99 and R >= 0.95."""
    lines = r["stdout"].splitlines()
    header = next((line for line in lines if line.startswith("backend")), None)
    first = next((line for line in lines if line.split()[:1] in (["sqlite"], ["postgres"])), None)
    if header is None or first is None:
        return []
    ends = [m.end() for m in re.finditer(r"\S+", first)][1:]
    pieces = [header[a:b] for a, b in zip([0, *ends], ends)]
    names = [
        pieces[0].split()[0],
        " ".join(pieces[0].split()[1:]),
        *(p.strip() for p in pieces[1:]),
    ]
    rows = []
    for backend in ("sqlite", "postgres"):
        sizes = [
            dict(zip(names, values))
            for values in map(str.split, lines)
            if values[:1] == [backend] and len(values) == len(names)
        ]
        if not sizes:
            continue
        try:
            for v in sizes:
                size = int(v["archived"].replace(",", ""))
                target = ">= 300/s" if size == 100_000 else "<= 2x" if size >= 1_000_000 else ""
                ok = (
                    float(v["rate/core"]) >= 300
                    if size == 100_000
                    else float(v["x first"]) <= 2
                    if size >= 1_000_000
                    else None
                )
                rows.append(
                    [
                        "dedupe",
                        f"{backend}, {v['archived']} archived: articles per CPU second "
                        f"(ms/article, x {sizes[0]['archived']})",
                        f"{float(v['rate/core']):.0f} ({float(v['ms/article']):.2f} ms, "
                        f"{float(v['x first']):.2f}x)",
                        target,
                        "" if ok is None else verdict(ok),
                        r["command"],
                    ]
                )
            precision = min(float(v["P"]) for v in sizes)
            recall = min(float(v["R"]) for v in sizes)
            rss = [float(v["RSS MB"]) for v in sizes]
            rows.append(
                [
                    "dedupe",
                    f"{backend}: pair precision / recall of the labelled reprint sets, lowest "
                    "over the sizes",
                    f"{precision:.3f} / {recall:.3f}",
                    ">= 0.99 / 0.95",
                    verdict(precision >= 0.99 and recall >= 0.95),
                    r["command"],
                ]
            )
            rows.append(
                [
                    "dedupe",
                    f"{backend}: worker RSS at {sizes[-1]['archived']} / at {sizes[0]['archived']} "
                    "archived",
                    f"{rss[-1]:.0f} / {rss[0]:.0f} MB",
                    "flat",
                    verdict(rss[-1] <= 1.2 * rss[0]),
                    r["command"],
                ]
            )
        except (KeyError, ValueError):
            continue
    return rows


def recrawl_rows(r: dict) -> list[list[str]]:
    m = re.search(r"^total\s+\d+\s+\d+\s+\d+\s+([\d.]+)%", r["stdout"], re.M)
    if not m:
        return []
    share = float(m.group(1))
    return [
        [
            "recrawl",
            "bytes of an unchanged re-crawl / first crawl",
            f"{share:.1f}%",
            "<= 10%",
            verdict(share <= 10),
            r["command"],
        ]
    ]


def summary(results: list[dict], data: dict) -> list[list[str]]:
    rows = []
    for r in results:
        name = r["name"]
        got = []
        if r["exit"] == 0:
            if name in ("fetch", "pipeline") and data.get(name):
                got = (fetch_rows if name == "fetch" else pipeline_rows)(r, data[name])
            else:
                got = {"clean": clean_rows, "dedupe": dedupe_rows, "recrawl": recrawl_rows}[name](r)
        if not got:
            got = [
                [
                    name,
                    "no figures (see its output below)"
                    if r["exit"] == 0
                    else f"FAILED (exit {r['exit']})",
                    "",
                    "",
                    "",
                    r["command"],
                ]
            ]
        rows += got
    return rows


def document(header: str, table: str, results: list[dict]) -> str:
    parts = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench.run_all` (do not edit by hand; rerun it). "
        "Every figure comes from the",
        "command beside it. Comparisons are ratios of contenders run side by side, "
        "alternating, in one run;",
        "absolute times on a shared machine are noise and are shown for scale only.",
        "",
        header,
        "",
        table,
        "",
    ]
    parts += NOTES.splitlines() + [""]
    for r in results:
        parts += [
            f"## {r['name']}",
            "",
            f"`{r['command']}` ({r['seconds']:.0f} s, exit {r['exit']})",
            "",
        ]
        out = r["stdout"].strip()
        if r["name"] in ("fetch", "pipeline"):  # already Markdown
            parts += [out.replace("\n## ", "\n### "), ""]
        else:
            parts += ["```", out, "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--out", default=str(DOC), help="the Markdown file to write")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="the dedupe bench on PostgreSQL too (127.0.0.1:5432; ~10 min more)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per bench")
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else list(BENCHES)

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="epaper-bench-json-") as tmp:
        cmds = {
            k: v for k, v in commands(args.quick, Path(tmp), args.postgres).items() if k in only
        }
        results, data = [], {}
        for name, cmd in cmds.items():
            results.append(run(name, cmd, args.timeout))
            path = Path(tmp) / f"{name}.json"
            if path.exists():
                data[name] = json.loads(path.read_text(encoding="utf-8"))
    total = time.perf_counter() - began

    header = (
        f"Run: `{harness.command_line()}` on {harness.machine_line()}; {total / 60:.1f} min in all."
    )
    table = harness.table(
        ["bench", "figure", "value", "target", "verdict", "command"],
        summary(results, data),
        aligns="llllll",
    )
    print(header)
    print()
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document(header, table, results), encoding="utf-8")
    print(f"\nwritten: {out}")
    if any(r["exit"] != 0 for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
