"""Reprint evidence: alignment of real wire copy (the seed pages), the short-text check in
the real catalog (SQLite and PostgreSQL), the evidence on the archive `epaper demo` wrote
against what the replica's desks changed, and `epaper cluster`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from dataset.reprints import EvidenceError, reprint_evidence, widest_clusters
from papers.ids import is_reprint
from replica import demo_sites
from replica.labelled_dedupe import CAPTIONS, stories
from storage.archive import open_archive
from storage.catalog import Catalog
from tests.test_dedupe import catalog_url, new_pg_url  # noqa: F401 (fixtures)
from text import align
from text.cjk import _display_width
from text.clean import CREDIT, DATELINE
from text.dedupe import fingerprint, overlap
from text.dedupe import is_reprint as overlap_passes

# --- alignment of real wire copy ------------------------------------------------------


def _as_cleaned(name: str, title: str) -> dict:
    """A seed story as the clean step gives it: the dateline in `source`, out of the body."""
    paragraphs = list(stories()[name])
    m = DATELINE.match(paragraphs[0])
    source = m.group("src") if m else ""
    if m:
        paragraphs[0] = paragraphs[0][m.end() :]
    return {"title": title, "source": source, "paragraphs": paragraphs}


def _ops(result: dict) -> list[tuple[str, str | None, str | None]]:
    return [(p["op"], p["earliest"], p["this"]) for p in result["paragraphs"]]


def test_a_desks_edits_are_found_paragraph_by_paragraph():
    earliest = _as_cleaned("xinhua-ai-study", "坚持自立自强 突出应用导向")
    e = earliest["paragraphs"]
    assert earliest["source"] == "新华社北京4月26日电" and len(e) == 8
    added = stories()["xinhua-zuofeng"][4]  # a real paragraph of another wire story
    sentences = align_sentences(e[5])
    dropped = sentences[1]
    edited = e[5].replace(dropped, "")
    half_width = e[4].translate(str.maketrans("，、。", ",,."))  # punctuation only
    this = {
        "title": "推动人工智能健康有序发展",
        "source": "据新华社电",
        "paragraphs": [e[0], e[1], added, e[2], half_width, edited, e[6], e[7]],
    }
    result = align.align(earliest, this)

    assert _ops(result) == [
        ("same", e[0], e[0]),
        ("same", e[1], e[1]),
        ("added", None, added),
        ("same", e[2], e[2]),
        ("cut", e[3], None),
        ("same", e[4], half_width),
        ("edited", e[5], edited),
        ("same", e[6], e[6]),
        ("same", e[7], e[7]),
    ]
    assert result["headline"] == {
        "earliest": "坚持自立自强 突出应用导向",
        "this": "推动人工智能健康有序发展",
        "changed": True,
    }
    assert result["dateline"] == {
        "earliest": "新华社北京4月26日电",
        "this": "据新华社电",
        "changed": True,
    }
    # The edited paragraph lost one sentence of its own: similarity 2(L - s) / (2L - s).
    whole, gone = len(align.bare(e[5])), len(align.bare(dropped))
    similarity = next(p["similarity"] for p in result["paragraphs"] if p["op"] == "edited")
    assert similarity == pytest.approx(2 * (whole - gone) / (2 * whole - gone), abs=0.01)
    # Shared: the story without its cut paragraph and the dropped sentence.
    total = sum(len(align.bare(p)) for p in e)
    kept = total - len(align.bare(e[3])) - gone
    assert result["shared"] == pytest.approx(kept / total, abs=0.01)


def align_sentences(paragraph: str) -> list[str]:
    return [s + "。" for s in paragraph.split("。") if s]


def test_an_unchanged_copy_and_a_replaced_paragraph():
    earliest = _as_cleaned("xinhua-zuofeng", "以上率下抓整改 严字当头转作风")
    e = earliest["paragraphs"]
    same = align.align(earliest, dict(earliest))
    assert [p["op"] for p in same["paragraphs"]] == ["same"] * len(e)
    assert same["shared"] == 1.0 and not same["headline"]["changed"]
    assert same["dateline"] == {"earliest": "", "this": "", "changed": False}

    other = stories()["xinhua-baicheng-hydrogen"][0]
    swapped = {**earliest, "paragraphs": [*e[:2], other, *e[3:]]}
    assert _ops(align.align(earliest, swapped))[2:4] == [
        ("cut", e[2], None),
        ("added", None, other),
    ], "an unrelated paragraph in the same place is no edit"


def test_a_split_paragraph_is_edited_plus_added_and_loses_nothing():
    earliest = _as_cleaned("xinhua-ai-study", "")
    e = earliest["paragraphs"]
    sentences = align_sentences(e[2])
    half = len(sentences) // 2
    first, second = "".join(sentences[:half]), "".join(sentences[half:])
    result = align.align(earliest, {**earliest, "paragraphs": [*e[:2], first, second, *e[3:]]})
    # the half more like the whole is its edited form, the other half added
    ops = result["paragraphs"]
    assert [p["op"] for p in ops[:2] + ops[4:]] == ["same"] * (len(e) - 1)
    assert sorted((p["op"], p["this"]) for p in ops[2:4]) == sorted(
        [("edited", max(first, second, key=len)), ("added", min(first, second, key=len))]
    )
    assert result["shared"] == 1.0, "every character of the paragraph is still printed"


def test_dateline_is_the_cleaned_source_line_or_the_opening_of_an_old_article():
    assert align.dateline({"source": "据新华社北京4月26日电\n新华社记者 谢环驰摄"}) == (
        "据新华社北京4月26日电"
    )
    assert align.dateline({"source": "本报记者 李晓明 文/摄"}) == "", "a byline is no dateline"
    old = {"paragraphs": stories()["xinhua-ai-study"]}  # an article JSON without `source`
    assert align.dateline(old) == "新华社北京4月26日电"
    local = {"paragraphs": stories()["baicheng-changwei"]}
    assert align.dateline(local) == "本报讯（记者张赫）"


# --- short texts: confirmed by alignment ----------------------------------------------

CREDIT_LINE = "新华社记者 谢环驰摄"


def _caption(i: int) -> str:
    """A caption of the 2025-04-29 visit (seed page 000) as an article's text: the clean
    step moves the photo credit into `source`."""
    assert CREDIT.match(CREDIT_LINE) and CAPTIONS[i].endswith(CREDIT_LINE)
    return CAPTIONS[i].removesuffix(CREDIT_LINE)


def _reprinted_caption() -> str:
    """The second caption as another desk ran it: half-width punctuation, a trimmed end."""
    return _caption(1).removesuffix("亲切交流。").translate(str.maketrans("，、。", ",,."))


def test_two_captions_of_one_visit_are_two_texts_by_alignment():
    one, two = _caption(0), _caption(1)
    assert align.bare(one)[:57] == align.bare(two)[:57], "they share their opening"
    a, b = fingerprint(one), fingerprint(two)
    assert set(a.bands) & set(b.bands), "the catalog finds one as the other's candidate"
    assert overlap_passes(overlap(a.shingles, b.shingles)), "and the overlap test passes it"
    assert not align.same_story(align.bare(one), align.bare(two))
    assert align.same_story(align.bare(two), align.bare(_reprinted_caption()))


def test_caption_case_ends_in_two_clusters(catalog_url):  # noqa: F811
    with Catalog(catalog_url) as catalog:
        first = catalog.assign("c/1", "shrb", "2025-04-30", _caption(0))
        second = catalog.assign("c/2", "jfrb", "2025-04-30", _caption(1))
        third = catalog.assign("c/3", "whb", "2025-05-01", _reprinted_caption())
        assert first["cluster"] == "c/1" and second["cluster"] == "c/2"
        assert third["cluster"] == "c/2" and 0.5 < third["similarity"] < 1
        assert [m["key"] for m in catalog.cluster_of("c/3")] == ["c/2", "c/3"]
        widest = catalog.widest_clusters()
        assert [(w["cluster"], w["papers"], w["copies"]) for w in widest] == [("c/2", 2, 2)]


def test_a_catalog_from_before_short_texts_gains_the_column(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with Catalog(url) as catalog:
        catalog.assign("c/1", "shrb", "2025-04-30", _caption(0))
        with catalog.engine.begin() as conn:
            conn.execute(text("ALTER TABLE dedupe_articles DROP COLUMN short_text"))
    with Catalog(url) as catalog:  # reopened: the column is back, NULL in the old row
        with catalog.engine.connect() as conn:
            assert conn.execute(text("SELECT short_text FROM dedupe_articles")).all() == [(None,)]
        # an old row keeps the overlap test's verdict: what was archived is not judged anew
        assert catalog.assign("c/2", "jfrb", "2025-04-30", _caption(1))["cluster"] == "c/1"
        with catalog.engine.connect() as conn:
            stored = conn.execute(text("SELECT short_text FROM dedupe_articles WHERE key='c/2'"))
            assert stored.scalar() == align.bare(_caption(1))


# --- evidence on the demo archive -----------------------------------------------------


def _truth() -> dict[tuple[str, str, str], dict]:
    """What the replica printed, by (paper id of the demo, date, URL path)."""
    out = {}
    for site in demo_sites():
        for day in site.dates:
            for article in site.truth(day)["articles"]:
                out["demo-" + site.paper, day.isoformat(), article["url"]] = article
    return out


def _body(truth: dict) -> list[str]:
    """The printed paragraphs without the dateline the clean step moves to `source`."""
    paragraphs = list(truth["paragraphs"])
    if truth["source"] and paragraphs[0].startswith(truth["source"]):
        paragraphs[0] = paragraphs[0][len(truth["source"]) :].lstrip()
    return paragraphs


def _dateline(truth: dict) -> str:
    """The replica's source line when it is a dateline (新华社北京4月26日电, 据新华社…电),
    not a byline (新华社记者 戴锦镕 柳泽兴 艾福梅, or 据 put before one)."""
    m = DATELINE.match(truth["source"])
    return m.group("src") if m else ""


@pytest.fixture
def demo_env(demo_archive, monkeypatch):
    for name, value in demo_archive.items():
        monkeypatch.setenv(name, value)
    return demo_archive


def test_evidence_finds_what_the_replicas_desks_changed(demo_env):
    truth = _truth()
    with open_archive() as archive, Catalog() as catalog:
        manifests = [
            json.loads(archive.get(k)) for k in archive.list("editions/") if k.endswith(".json")
        ]
        reprints = {a["key"] for m in manifests for a in m["articles"] if is_reprint(a)}
        clusters = widest_clusters(catalog, limit=1000, archive=archive)
        assert clusters == sorted(clusters, key=lambda c: (-c["papers"], -c["copies"]))
        seen = set()
        desk_edits = {"headline": 0, "dateline": 0, "edited": 0, "cut": 0, "added": 0}
        for cluster in clusters:
            evidence = reprint_evidence(archive, catalog, cluster["canonical"])
            canonical = json.loads(archive.get(cluster["canonical"]))
            assert evidence["cluster"] == cluster["cluster"] and not evidence["absent"]
            assert cluster["title"] == canonical["title"] == evidence["canonical"]["title"]
            assert len(evidence["copies"]) == cluster["copies"] - 1
            assert [c["date"] for c in evidence["copies"]] == sorted(
                c["date"] for c in evidence["copies"]
            )
            assert evidence["total_copies"] == len(evidence["copies"])
            for offset in range(len(evidence["copies"])):  # a page of one copy at a time
                one = reprint_evidence(archive, catalog, cluster["canonical"], offset, 1)
                assert one["copies"] == evidence["copies"][offset : offset + 1]
                assert one["total_copies"] == evidence["total_copies"]
            was = truth[canonical["paper"], canonical["date"], urlsplit(canonical["url"]).path]
            for copy in evidence["copies"]:
                assert copy["key"] != cluster["canonical"]
                seen.add(copy["key"])
                article = json.loads(archive.get(copy["key"]))
                printed = truth[article["paper"], article["date"], urlsplit(article["url"]).path]
                assert (copy["paper"], copy["date"], copy["title"], copy["page_name"]) == (
                    article["paper"],
                    article["date"],
                    article["title"],
                    article["page_name"],
                )
                # The replica's desks keep a prefix of the wire story, may swap headline
                # and subtitle, and may put 据 before it (the dateline 据新华社…电, or
                # the first paragraph of a story whose dateline is not its opening).
                a, b = _body(was), _body(printed)
                n = min(len(a), len(b))
                kept = ["same" if x == y else "edited" for x, y in zip(a, b)]
                assert [p["op"] for p in copy["paragraphs"]] == (
                    kept + ["cut"] * (len(a) - n) + ["added"] * (len(b) - n)
                )
                edited = [p for p in copy["paragraphs"] if p["op"] == "edited"]
                assert [(p["earliest"], p["this"]) for p in edited] == [
                    (x, y) for x, y in zip(a, b) if x != y
                ]
                assert all(0.9 < p["similarity"] < 1 for p in edited)
                assert [p["earliest"] for p in copy["paragraphs"] if p["op"] == "cut"] == a[n:]
                assert [p["this"] for p in copy["paragraphs"] if p["op"] == "added"] == b[n:]
                assert copy["headline"] == {
                    "earliest": was["title"],
                    "this": printed["title"],
                    "changed": was["title"] != printed["title"],
                }
                assert copy["dateline"] == {
                    "earliest": _dateline(was),
                    "this": _dateline(printed),
                    "changed": _dateline(was) != _dateline(printed),
                }
                # all of the earliest text is carried when no paragraph was cut or lost a
                # character (putting 据 before one loses nothing)
                whole = len(b) >= len(a) and all(x in y for x, y in zip(a, b))
                assert (copy["shared"] == 1.0) == whole, (copy["shared"], a, b)
                desk_edits["headline"] += copy["headline"]["changed"]
                desk_edits["dateline"] += copy["dateline"]["changed"]
                desk_edits["edited"] += bool(edited)
                desk_edits["cut"] += len(a) > n
                desk_edits["added"] += len(b) > n
    assert seen == reprints, "every reprint of the demo has its evidence"
    assert all(desk_edits.values()), desk_edits  # each kind of edit occurs in the demo
    print(f"\ndemo: {len(seen)} reprints aligned; copies with each change: {desk_edits}")


def test_evidence_and_widest_clusters_refuse_bad_input(demo_env):
    with open_archive() as archive, Catalog() as catalog:
        with pytest.raises(EvidenceError, match="articles/demo-bcrb/nope.json is not in"):
            reprint_evidence(archive, catalog, "articles/demo-bcrb/nope.json")
        with pytest.raises(ValueError, match="wrong way round"):
            widest_clusters(catalog, "2025-04-29", "2025-04-27")
        with pytest.raises(ValueError, match="'April' is not a date"):
            widest_clusters(catalog, "April")
        one_day = widest_clusters(catalog, "2025-04-28", "2025-04-28")
        assert one_day and all(c["first"] == c["last"] == "2025-04-28" for c in one_day)
        assert all(c["title"] is None for c in one_day), "no archive given: no titles"


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "epaper.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "COLUMNS": "120"},
        timeout=300,
    )


def test_cluster_command_prints_the_evidence(demo_env):
    with open_archive() as archive, Catalog() as catalog:
        widest = widest_clusters(catalog, limit=1)[0]
        evidence = reprint_evidence(archive, catalog, widest["canonical"])
    copy = next(c for c in evidence["copies"] if c["headline"]["changed"])

    run = _cli(["cluster", copy["key"], "--format", "json"], demo_env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == evidence

    run = _cli(["cluster", copy["key"]], demo_env)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"story {evidence['cluster']}: copies {len(evidence['copies']) + 1}")
    assert evidence["canonical"]["key"] in lines[1] and lines[1].startswith("earliest")
    at = next(i for i, line in enumerate(lines) if copy["key"] in line)
    assert lines[at].startswith(f"{copy['similarity']:.2f}  {copy['paper']}  {copy['date']}")
    headline = copy["headline"]
    assert lines[at + 1].split() == [
        "headline",
        *headline["earliest"].split(),
        "→",
        *headline["this"].split(),
    ]
    assert lines[at + 2].split()[0] == "dateline"
    marks = {"same": ["="], "edited": ["~", "was:"], "cut": ["-"], "added": ["+"]}
    expected = [m for p in copy["paragraphs"] for m in marks[p["op"]]]
    assert [line.split()[0] for line in lines[at + 4 : at + 4 + len(expected)]] == expected
    # paragraph lines fit the terminal (CJK characters take two columns); keys stay whole
    assert all(_display_width(line) <= 120 for line in lines[at + 1 :] if line.startswith("  "))

    bad = _cli(["cluster", "articles/demo-bcrb/nope.json"], demo_env)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "epaper: error: articles/demo-bcrb/nope.json is not in the catalog"
