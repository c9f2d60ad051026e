"""What the terminal shows of an edition run: one line each."""

from __future__ import annotations

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
    return (
        f"{head}: {plural(len(result['pages']), 'page')}, "
        f"{plural(len(result['articles']), 'article')}, {plural(reprints, 'reprint')}, "
        f"{'archived' if result['changed'] else 'unchanged'} -> {result['key']}"
        + (f" (incomplete: {result['incomplete']})" if result.get("incomplete") else "")
    )
