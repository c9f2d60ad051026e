"""Loading a long papers file: CPU time and memory, this version against an earlier one.

Writes a generated papers file of `--papers` entries (every fifth with two eras), loads it
with `papers.catalogue` as it is and with the version at `--before` (taken from git into a
temporary module), each in its own process so peak memory is its own, best of `--repeat`.
CPU seconds, not wall time: on a shared machine other processes only add wall time.

    .venv/bin/python -m bench.config_bench [--papers 30000] [--before ed23d79] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

BEFORE = "ed23d79"  # the last commit before papers files were read from libyaml's events


def papers_file(n: int) -> str:
    entries = []
    for i in range(n):
        head = (
            f"- id: paper-{i}\n  name: 测试日报 {i}\n  region: 某省某市\n"
            f'  schedule: "{i % 60} {i // 60 % 24} * * *"\n  timezone: Asia/Shanghai\n'
            f'  source: "generated entry {i}"\n'
        )
        url = f"http://epaper{i}.example.cn"
        if i % 5:
            entries.append(
                head + "  family: founder-new\n"
                f'  edition_url: "{url}/pc/layout/{{date:%Y%m/%d}}/node_01.html"\n'
            )
        else:
            entries.append(
                head + "  eras:\n    - to: 2024-11-30\n      family: founder-classic\n"
                f'      edition_url: "{url}/html/{{date:%Y-%m/%d}}/node_1.htm"\n'
                "    - from: 2024-12-01\n      family: founder-new\n"
                f'      edition_url: "{url}/pc/layout/{{date:%Y%m/%d}}/node_01.html"\n'
            )
    return "".join(entries)


def measure(module_path: Path, papers: Path) -> dict:
    """One load in a fresh process: CPU seconds of the load and the process's peak RSS."""
    code = (
        "import importlib.util, json, resource, sys, time\n"
        "spec = importlib.util.spec_from_file_location('config_under_test', "
        f"{str(module_path)!r})\n"
        "config = sys.modules[spec.name] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(config)\n"
        "start = time.process_time()\n"
        f"n = len(config.read_papers({str(papers)!r}))\n"
        "cpu = time.process_time() - start\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'papers': n, 'cpu': cpu, 'rss_mib': rss}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=harness.ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out)


def best(module_path: Path, papers: Path, repeat: int) -> dict:
    runs = [measure(module_path, papers) for _ in range(repeat)]
    return {
        "papers": runs[0]["papers"],
        "cpu": min(r["cpu"] for r in runs),
        "rss_mib": min(r["rss_mib"] for r in runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=30000)
    parser.add_argument(
        "--before", default=BEFORE, help="git revision of the version to compare with"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"config bench: {harness.command_line()}")
    print(f"machine: {harness.machine_line()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        papers = folder / "papers.yaml"
        papers.write_text(papers_file(args.papers), encoding="utf-8")
        old = folder / "config_before.py"
        old.write_text(
            subprocess.run(
                ["git", "show", f"{args.before}:papers/catalogue.py"],
                cwd=harness.ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout,
            encoding="utf-8",
        )
        started = time.perf_counter()
        now = best(harness.ROOT / "papers" / "catalogue.py", papers, args.repeat)
        then = best(old, papers, args.repeat)
        print(
            f"{args.papers} papers, {papers.stat().st_size / 2**20:.1f} MiB, best of {args.repeat}"
        )
        print(f"{'version':<12} {'CPU s':>8} {'peak RSS MiB':>13}")
        print(f"{args.before:<12} {then['cpu']:>8.2f} {then['rss_mib']:>13.0f}")
        print(f"{'now':<12} {now['cpu']:>8.2f} {now['rss_mib']:>13.0f}")
        print(
            f"ratio: {then['cpu'] / now['cpu']:.1f}x less CPU, "
            f"{then['rss_mib'] / now['rss_mib']:.1f}x less peak memory "
            f"({time.perf_counter() - started:.0f} s wall for the bench)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
