"""A readable diff between two versions of an article (difflib), as data a template marks up.

Fields are compared one by one; paragraphs are aligned as a list (so an added or removed
paragraph is one row), and a paragraph that changed is compared again character by character:
Chinese has no word gaps, so characters are the unit a reader sees change.
"""

from __future__ import annotations

from difflib import SequenceMatcher

FIELDS = ("kicker", "title", "subtitle", "author", "source")


def segments(old: str, new: str) -> list[list]:
    """[[op, text]] with op "same", "del" or "ins": `old` turned into `new` by characters."""
    out: list[list] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(["same", old[i1:i2]])
            continue
        if i2 > i1:
            out.append(["del", old[i1:i2]])
        if j2 > j1:
            out.append(["ins", new[j1:j2]])
    return out


def _rows(old: list[str], new: list[str]) -> list[dict]:
    rows = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [{"op": "same", "segments": [["same", p]]} for p in old[i1:i2]]
            continue
        # A replaced run: pair paragraphs in order, the rest are cut or added.
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            rows.append({"op": "edited", "segments": segments(old[i1 + k], new[j1 + k])})
        rows += [{"op": "cut", "segments": [["del", p]]} for p in old[i1 + pairs : i2]]
        rows += [{"op": "added", "segments": [["ins", p]]} for p in new[j1 + pairs : j2]]
    return rows


def article_diff(old: dict, new: dict) -> dict:
    """{"fields": [{"field", "op", "segments"}], "paragraphs": [{"op", "segments"}],
    "changed": bool}: what turned `old` (article JSON) into `new`."""
    fields = []
    for name in FIELDS:
        a, b = old.get(name) or "", new.get(name) or ""
        if a != b:
            fields.append({"field": name, "op": "edited", "segments": segments(a, b)})
    paragraphs = _rows(list(old.get("paragraphs") or []), list(new.get("paragraphs") or []))
    changed = bool(fields) or any(row["op"] != "same" for row in paragraphs)
    return {"fields": fields, "paragraphs": paragraphs, "changed": changed}
