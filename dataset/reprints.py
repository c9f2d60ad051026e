"""Reprint evidence: every copy of a story aligned against its earliest copy (passim-style).

The cluster comes from the dedupe catalog (storage.catalog), the texts from the archived
article JSON (latest versions), the alignment from text.align. Nothing is written.

    reprint_evidence(archive, catalog, key)   one story: what each copy kept, cut, added
    widest_clusters(catalog, date_from, date_to, limit)   the stories most papers printed
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

from storage.archive import ObjectNotFound, in_parallel
from text.align import align
from text.cjk import _display_width


class EvidenceError(LookupError):
    """A key the catalog or the archive does not hold."""


def _read(archive, key: str) -> dict | None:
    try:
        return json.loads(archive.get(key))
    except ObjectNotFound:  # a catalog shared by several buckets
        return None


def _head(key: str, article: dict) -> dict:
    return {
        "key": key,
        "paper": article.get("paper"),
        "date": article.get("date"),
        "page_name": article.get("page_name"),
        "title": article.get("title"),
    }


def reprint_evidence(archive, catalog, key: str, offset: int = 0, limit: int | None = None) -> dict:
    """The story of `key`: its cluster, its canonical (earliest) copy, and each other copy
    in date order with its similarity (the catalog's, to the canonical), its headline and
    dateline against the canonical's, its paragraphs aligned (same, edited, cut, added)
    and the share of the canonical's text it carries (`shared`). Copies offset..offset+limit
    of `total_copies` are read and aligned. `absent`: those the catalog holds but this
    bucket does not."""
    members = catalog.cluster_of(key)
    if not members:
        raise EvidenceError(f"{key} is not in the catalog")
    canonical_key = members[0]["canonical"]
    others = sorted(  # stable: archive order within a day
        (m for m in members if m["key"] != canonical_key), key=lambda m: m["date"] or ""
    )
    shown = others[offset : None if limit is None else offset + limit]
    wanted = [canonical_key, *(m["key"] for m in shown)]
    texts = dict(zip(wanted, in_parallel([lambda k=k: _read(archive, k) for k in wanted])))
    canonical = texts.get(canonical_key)
    if canonical is None:
        raise EvidenceError(
            f"the earliest copy {canonical_key} of {key}'s story is not in this bucket"
        )
    copies = [
        {
            **_head(m["key"], texts[m["key"]]),
            "similarity": m["similarity"],
            **align(canonical, texts[m["key"]]),
        }
        for m in shown
        if texts[m["key"]] is not None
    ]
    return {
        "cluster": members[0]["cluster"],
        "canonical": _head(canonical_key, canonical),
        "copies": copies,
        "total_copies": len(others),
        "offset": offset,
        "absent": [m["key"] for m in shown if texts[m["key"]] is None],
    }


def _day(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def widest_clusters(
    catalog, date_from: str | None = None, date_to: str | None = None, limit: int = 20, archive=None
) -> list[dict]:
    """The stories printed by the most papers between date_from and date_to (copies dated
    in the range count), most copies next: dicts of cluster, papers, copies, first, last,
    canonical and title (the canonical's, read from `archive` when one is given, else
    None: the catalog holds no text)."""
    start, end = _day(date_from, "date_from"), _day(date_to, "date_to")
    if start and end and start > end:
        raise ValueError(f"date range the wrong way round: {start} is after {end}")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    rows = catalog.widest_clusters(start, end, limit)
    titles = (
        in_parallel([lambda k=r["canonical"]: _read(archive, k) for r in rows])
        if archive is not None
        else [None] * len(rows)
    )
    return [{**r, "title": (t or {}).get("title")} for r, t in zip(rows, titles)]


_MARK = {"same": "=", "edited": "~", "cut": "-", "added": "+"}


def _clip(text: str, columns: int) -> str:
    """One line of at most `columns` terminal columns (CJK characters take two)."""
    text, out, used = text.replace("\n", " "), [], 0
    for ch in text:
        used += _display_width(ch)
        if used > columns - 1:
            return "".join(out) + "…"
        out.append(ch)
    return text


def _change_line(name: str, change: dict, columns: int) -> str:
    if not change["changed"]:
        return _clip(f"      {name:<9} same: {change['this'] or '(none)'}", columns)
    return _clip(
        f"      {name:<9} {change['earliest'] or '(none)'} → {change['this'] or '(none)'}", columns
    )


def evidence_lines(evidence: dict, columns: int = 100) -> Iterator[str]:
    """The evidence for a terminal: per copy its paper, date, similarity, headline and
    dateline changes, then its paragraphs against the earliest copy's, one line each
    (= same, ~ edited with its similarity and the earliest wording, - cut, + added)."""
    canonical, copies = evidence["canonical"], evidence["copies"]
    dates = [canonical["date"], *(c["date"] for c in copies)]
    papers = {canonical["paper"], *(c["paper"] for c in copies)}
    yield (
        f"story {evidence['cluster']}: copies {len(copies) + 1}, papers {len(papers)}, "
        f"{min(dates)} to {max(dates)}"
    )
    # lines with a key are never clipped: the key is what one copies from them
    yield (
        f"earliest  {canonical['paper']}  {canonical['date']}  {canonical['page_name'] or ''}  "
        f"{canonical['key']}"
    )
    yield _clip(f"          {canonical['title'] or '(untitled)'}", columns)
    for copy in copies:
        ops = [p["op"] for p in copy["paragraphs"]]
        counts = ", ".join(f"{ops.count(op)} {op}" for op in _MARK if op in ops)
        yield ""
        yield (
            f"{copy['similarity']:.2f}  {copy['paper']}  {copy['date']}  "
            f"{copy['page_name'] or ''}  {copy['key']}"
        )
        yield _change_line("headline", copy["headline"], columns)
        yield _change_line("dateline", copy["dateline"], columns)
        yield f"      shared    {copy['shared']:.0%} of the earliest text; paragraphs: {counts}"
        for p in copy["paragraphs"]:
            if p["op"] == "edited":
                yield _clip(f"      ~ {p['similarity']:.2f}  {p['this']}", columns)
                yield _clip(f"        was:  {p['earliest']}", columns)
            else:
                text = p["this"] if p["op"] == "added" else p["earliest"]
                yield _clip(f"      {_MARK[p['op']]}        {text}", columns)
    if evidence["absent"]:
        yield ""
        yield f"not in this bucket: {', '.join(evidence['absent'])}"
