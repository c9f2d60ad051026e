"""What the terminal shows of an edition run: one line each."""

from __future__ import annotations

from papers import checks
from papers.ids import is_reprint


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary(result: dict) -> str:
    """One line per edition run, for the terminal."""
    head = f"{result['paper']} {result['date']}"
    if result["status"] == "missing":
        return f"{head}: no edition ({result['reason']})"
    if result["status"] == "failed":
        return f"{head}: failed ({result['reason']})"
    reprints = sum(1 for a in result["articles"] if is_reprint(a))
    # the crawl's own reason (a budget cut it) and the edition checks that failed
    why = [result["incomplete"]] if result.get("incomplete") else []
    if result.get("checks"):
        why.append(f"checks failed: {checks.names(result['checks'])}")
    return (
        f"{head}: {plural(len(result['pages']), 'page')}, "
        f"{plural(len(result['articles']), 'article')}, {plural(reprints, 'reprint')}, "
        f"{'archived' if result['changed'] else 'unchanged'} -> {result['key']}"
        + (f" (incomplete: {'; '.join(why)})" if why else "")
    )
