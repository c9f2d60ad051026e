"""Clean throughput: articles per second on one core, ours beside trafilatura.

    python -m bench.clean_bench [--seconds S]

Runs on the labelled article pages (replica/labelled_clean.py), pinned to one CPU,
each contender timed in the same run over the same pages, repeated until at least
S seconds have passed. Figures on a shared machine are noisy: read the ratio.
"""

from __future__ import annotations

import argparse
import os
import time

import trafilatura

from replica.labelled_clean import html_of, labelled_set
from text.clean import clean_article


def rate(fn, inputs: list, seconds: float) -> float:
    """Calls per second of fn over inputs, whole passes until `seconds` have passed."""
    for x in inputs[:5]:  # warm caches and lazy imports
        fn(x)
    done, start = 0, time.perf_counter()
    while True:
        for x in inputs:
            fn(x)
        done += len(inputs)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time per contender")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # per core: keep every contender on one CPU
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pages = labelled_set()
    items = [p.item for p in pages]
    htmls = [(html_of(it), it["url"]) for it in items]
    contenders = {
        "ours (clean_article)": (clean_article, items),
        "trafilatura.extract": (lambda h: trafilatura.extract(h[0], url=h[1]), htmls),
        "trafilatura.extract +metadata": (
            lambda h: trafilatura.extract(h[0], url=h[1], with_metadata=True, output_format="json"),
            htmls,
        ),
    }
    results = {name: rate(fn, inputs, args.seconds) for name, (fn, inputs) in contenders.items()}
    ours = results["ours (clean_article)"]
    print(f"{len(items)} labelled article pages, one core, >= {args.seconds:g} s each")
    print(f"{'contender':<32}{'articles/s':>12}{'ours / it':>12}")
    for name, value in results.items():
        print(f"{name:<32}{value:>12.1f}{ours / value:>12.2f}")


if __name__ == "__main__":
    main()
