"""Exports of the demo archive, loaded as a researcher would: pandas and DuckDB alone, none
of our code. The expected rows are read from the archive itself (manifests, article JSON)
and the catalog, never written down here."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dataset import export
from dataset.search import SearchIndex
from storage.archive import open_archive
from storage.catalog import Catalog

# The first test pays for demo_archive (`epaper demo`): over 10 minutes on a loaded machine.
pytestmark = pytest.mark.timeout(1800)
ROOT = Path(__file__).resolve().parent.parent
PAPER = "demo-bcrb"  # three editions in the demo, one reprint among them


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "epaper.cli", *args],
        capture_output=True,
        env={**os.environ, **env},
        timeout=300,
    )


@pytest.fixture(scope="module")
def demo(demo_archive):
    """The demo archive as its manifests and catalog tell it: the paper's editions, their
    article JSON by key (latest versions) and each article's cluster members."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in demo_archive.items():
            env.setenv(name, value)
        with open_archive() as archive, Catalog() as catalog:
            manifests = [
                json.loads(archive.get(key))
                for key in archive.list(f"editions/{PAPER}/")
                if key.endswith("/manifest.json")
            ]
            keys = [a["key"] for m in manifests for a in m["articles"]]
            articles = {key: json.loads(archive.get(key)) for key in keys}
            clusters = {key: catalog.cluster_of(key) for key in keys}
    dates = sorted(m["date"] for m in manifests)
    assert len(dates) >= 3
    return {
        "env": demo_archive,
        "manifests": manifests,
        "keys": keys,
        "articles": articles,
        "clusters": clusters,
        # a range of the paper's editions: all but its first
        "range": (dates[1], dates[-1]),
        "range_keys": [a["key"] for m in manifests if m["date"] >= dates[1] for a in m["articles"]],
    }


def load(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "csv":
        return pd.read_csv(path, keep_default_na=False)
    return pd.read_json(path, lines=True)


@pytest.mark.parametrize("fmt", list(export.FORMATS))
def test_a_papers_range_loads_in_pandas_and_duckdb_as_archived(demo, fmt, tmp_path):
    out = tmp_path / f"export.{fmt}"
    run = run_cli(
        ["export", "--paper", PAPER, "--from", demo["range"][0], "--to", demo["range"][1]]
        + ["--format", fmt, "-o", str(out)],
        demo["env"],
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    wanted = demo["range_keys"]
    assert f"exported {len(wanted)} articles" in run.stdout.decode()

    frame = load(out, fmt)
    assert list(frame.columns) == export.SCHEMA.names
    assert len(frame) == len(wanted) > 0  # every article the range's manifests list, once
    assert list(frame["key"]) == wanted  # edition by edition, in manifest order
    for row in frame.itertuples():
        article = demo["articles"][row.key]
        assert row.title == article["title"] and row.text == article["text"]
        paragraphs = json.loads(row.paragraphs) if fmt == "csv" else list(row.paragraphs)
        assert paragraphs == article["paragraphs"]
        assert str(row.date)[:10] == article["date"]
    assert frame["text"].str.contains("[\u4e00-\u9fff]").all()  # Chinese intact, not escaped

    reprints = [k for k in wanted if len(demo["clusters"][k]) > 1]
    assert reprints, "the demo archive has reprints"
    by_key = frame.set_index("key")
    for key in reprints:
        members = demo["clusters"][key]
        mine = next(m for m in members if m["key"] == key)
        assert by_key.loc[key, "canonical"] == mine["canonical"] == members[0]["key"]
        assert by_key.loc[key, "cluster"] == mine["cluster"]
        assert by_key.loc[key, "cluster_size"] == len(members)
        assert by_key.loc[key, "similarity"] == pytest.approx(mine["similarity"])

    source = {
        "parquet": f"'{out}'",
        "csv": f"read_csv('{out}')",
        "jsonl": f"read_json_auto('{out}')",
    }[fmt]
    counted = duckdb.sql(
        f"select count(*), count(distinct key), min(date)::varchar, max(date)::varchar "
        f"from {source}"
    ).fetchall()[0]
    assert counted == (len(wanted), len(wanted), *demo["range"])
    titles = dict(duckdb.sql(f"select key, title from {source}").fetchall())
    assert titles == {key: demo["articles"][key]["title"] for key in wanted}


def test_parquet_keeps_types_and_the_keys_of_the_capture(demo, tmp_path, monkeypatch):
    out = tmp_path / "export.parquet"
    run = run_cli(["export", "--paper", PAPER, "-o", str(out)], demo["env"])  # format: suffix
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    rows = duckdb.sql(
        f"select key, url, page_no, images, keywords, version_id, pdf_key, edition_status, "
        f"warc_key, warc_offset, warc_length, epoch(captured_at) from '{out}' order by key"
    ).fetchall()
    described = dict(
        duckdb.sql(f"select column_name, column_type from (describe '{out}')").fetchall()
    )
    assert described["date"] == "DATE" and described["page_no"] == "INTEGER"
    assert described["paragraphs"] == "VARCHAR[]"
    assert described["captured_at"] == "TIMESTAMP WITH TIME ZONE"
    listed = {a["key"]: (a, m) for m in demo["manifests"] for a in m["articles"]}
    for name, value in demo["env"].items():
        monkeypatch.setenv(name, value)
    with open_archive() as archive:
        warcs = {
            m["crawl"]["warc_key"]: archive.get(m["crawl"]["warc_key"]) for m in demo["manifests"]
        }
    for key, url, page_no, images, keywords, version_id, pdf_key, status, *capture in rows:
        entry, manifest = listed[key]
        article = demo["articles"][key]
        assert url == article["url"] and page_no == article["page_no"]
        assert images == article["images"] and keywords == article["keywords"]
        assert version_id == entry["version_id"]  # the latest version is the listed one
        assert status == manifest["status"]
        page = next(p for p in manifest["pages"] if p["page_no"] == page_no)
        assert pdf_key == page["pdf_key"]
        # The article's own response record, from the edition's CDXJ: one gzip member.
        warc_key, offset, length, captured = capture
        assert warc_key == manifest["crawl"]["warc_key"]  # one crawl an edition in the demo
        record = gzip.decompress(warcs[warc_key][offset : offset + length])
        head = record.split(b"\r\n\r\n", 1)[0].decode()
        assert "WARC-Type: response" in head and f"WARC-Target-URI: {url}" in head
        crawl = manifest["crawl"]
        started, finished = (pd.Timestamp(crawl[t]).timestamp() for t in ("started", "finished"))
        assert int(started) <= captured <= finished + 1  # the record's time, to the second


def test_a_cluster_exports_its_members_in_archive_order(demo, tmp_path):
    widest = max(demo["keys"], key=lambda k: len(demo["clusters"][k]))
    members = [m["key"] for m in demo["clusters"][widest]]
    assert len(members) > 1
    out = tmp_path / "cluster.jsonl"
    run = run_cli(["export", "--cluster", widest, "-o", str(out)], demo["env"])
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    frame = pd.read_json(out, lines=True)
    assert list(frame["key"]) == members  # other papers' copies too
    assert frame["cluster"].nunique() == 1 and set(frame["canonical"]) == {members[0]}
    assert frame["paper"].nunique() == len({m["paper"] for m in demo["clusters"][widest]})

    to_stdout = run_cli(
        ["export", "--cluster", widest, "--paper", PAPER, "--format", "csv", "-o", "-"],
        demo["env"],
    )
    assert to_stdout.returncode == 0, to_stdout.stderr.decode()[-2000:]
    assert to_stdout.stdout.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    mine = pd.read_csv(io.BytesIO(to_stdout.stdout))
    assert list(mine.columns) == export.SCHEMA.names  # pandas skips the BOM
    assert list(mine["key"]) == [m["key"] for m in demo["clusters"][widest] if m["paper"] == PAPER]


def test_a_search_result_exports_every_hit(demo, tmp_path):
    # The search index in a copy of the demo's catalog: the shared archive stays unwritten.
    catalog = tmp_path / "catalog.sqlite"
    shared = Path(demo["env"]["EPAPER_HOME"]) / "catalog.sqlite"
    source, copy = sqlite3.connect(f"file:{shared}?mode=ro", uri=True), sqlite3.connect(catalog)
    source.backup(copy)
    source.close(), copy.close()
    env = {**demo["env"], "EPAPER_CATALOG_URL": f"sqlite:///{catalog}"}
    rebuilt = run_cli(["index", "--rebuild"], env)
    assert rebuilt.returncode == 0, rebuilt.stderr.decode()[-2000:]
    term = "人工智能"
    with SearchIndex(env["EPAPER_CATALOG_URL"]) as index:
        total = index.search(term, paper=PAPER, limit=0)["total"]
        wanted = list(index.keys(term, paper=PAPER))
    assert total == len(wanted) > 0

    out = tmp_path / "hits.parquet"
    run = run_cli(["export", "--query", term, "--paper", PAPER, "-o", str(out)], env)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    hits = duckdb.sql(f"select key, title || text as words from '{out}'").fetchall()
    assert [key for key, _ in hits] == wanted
    assert all(term in words for _, words in hits)

    none = run_cli(["export", "--query", "没有这个词语", "-o", str(tmp_path / "x.csv")], env)
    fails(none, "没有这个词语")
    fails(run_cli(["export", "--wire", "-o", str(tmp_path / "x.csv")], env), "--query")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.sqlite", "hits.parquet"]


def test_rows_for_keys_are_the_edition_rows_of_those_keys(demo, monkeypatch):
    for name, value in demo["env"].items():
        monkeypatch.setenv(name, value)
    wanted = demo["keys"][::-1][:5] + ["articles/demo-bcrb/2025-04-27/01/none-such.json"]
    with open_archive() as archive, Catalog() as catalog:
        by_edition = {r["key"]: r for r in export.edition_rows(archive, catalog, paper=PAPER)}
        by_keys = list(export.rows_for_keys(archive, catalog, wanted))
        assert [r["key"] for r in by_keys] == wanted[:5]  # a key not in the bucket: left out
        assert by_keys == [by_edition[key] for key in wanted[:5]]
        buffer = io.BytesIO()
        assert export.write_rows(iter(by_keys), "jsonl", buffer) == 5
    lines = buffer.getvalue().decode("utf-8").splitlines()
    assert [json.loads(line)["title"] for line in lines] == [r["title"] for r in by_keys]


def test_the_capture_is_the_latest_response_not_a_revisit_or_an_error(archive_env):
    """An edition crawled three times: fetched (200), then revisited unchanged, then answered
    503. Its row points at the first crawl's response record, which holds the page."""
    url = "http://127.0.0.1:1/p/content_1.html"
    key = "articles/p/2025-04-01/01/content_1.json"
    warcs = [f"p/2025-04-01/p-2025040{n}063000-00000.warc.gz" for n in (1, 2, 3)]
    lines = [
        (warcs[0], "20250401063001", "text/html", "200", 100),
        (warcs[1], "20250402063001", "warc/revisit", "200", 200),
        (warcs[2], "20250403063001", "text/html", "503", 300),
    ]
    index = "".join(
        f"1,0,0,127:1)/p/content_1.html {ts} "
        + json.dumps(
            {
                "url": url,
                "mime": mime,
                "status": status,
                "offset": str(offset),
                "length": "50",
                "filename": warc,
            }
        )
        + "\n"
        for warc, ts, mime, status, offset in lines
    )
    article = {
        "paper": "p",
        "date": "2025-04-01",
        "page_no": 1,
        "url": url,
        "title": "标题",
        "images": [{"url": "http://127.0.0.1:1/a.jpg", "caption": "图", "width": 9}],
        "dedupe": {"cluster": key, "canonical": key, "similarity": 1.0},
    }
    manifest = {
        "paper": "p",
        "date": "2025-04-01",
        "status": "complete",
        "pages": [{"page_no": 1, "pdf_key": None}],
        "articles": [{"key": key, "url": url, "page_no": 1}],
        "crawl": {"started": "2025-04-03T06:30:00+00:00", "warc_key": f"raw/{warcs[2]}"},
    }
    with open_archive() as archive:
        archive.put(key, json.dumps(article).encode())
        archive.put("raw/p/2025-04-01/index.cdxj", index.encode())
        archive.put("editions/p/2025-04-01/manifest.json", json.dumps(manifest).encode())
        [row] = export.edition_rows(archive, None, paper="p")
    assert (row["warc_key"], row["warc_offset"], row["warc_length"]) == (f"raw/{warcs[0]}", 100, 50)
    assert row["captured_at"].isoformat() == "2025-04-01T06:30:01+00:00"
    # without a catalog: the cluster as archived, its size unknown
    assert (row["cluster"], row["cluster_size"], row["title"]) == (key, None, "标题")
    assert row["images"] == [{"url": "http://127.0.0.1:1/a.jpg", "caption": "图"}]
    assert row["keywords"] is None and row["zone"] is None  # an older article's absent fields


def fails(run: subprocess.CompletedProcess, *named: str) -> str:
    """The one error line of a refused command, which names its input."""
    assert run.returncode == 1, run.stdout
    lines = run.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("epaper: error: "), lines
    for name in named:
        assert name in lines[0]
    return lines[0]


def test_bad_input_gets_one_line_and_leaves_no_file(demo, tmp_path):
    env, out = demo["env"], tmp_path / "out.csv"
    fails(run_cli(["export", "--paper", "no-such-paper", "-o", str(out)], env), "no-such-paper")
    line = fails(
        run_cli(
            ["export", "--paper", PAPER, "--from", "1999-01-01", "--to", "1999-12-31"]
            + ["-o", str(out)],
            env,
        ),
        PAPER,
        "1999-01-01",
    )
    assert "no archived editions" in line
    fails(
        run_cli(["export", "--from", "2025-05-02", "--to", "2025-05-01", "-o", str(out)], env),
        "2025-05-02",
    )
    fails(run_cli(["export", "--from", "2025-5-1", "-o", str(out)], env), "2025-5-1")
    fails(
        run_cli(["export", "--cluster", "articles/x/2025-01-01/01/y.json", "-o", str(out)], env),
        "articles/x/2025-01-01/01/y.json",
    )
    fails(run_cli(["export", "--paper", PAPER, "-o", str(tmp_path / "out.xlsx")], env), "out.xlsx")
    fails(run_cli(["export", "--paper", PAPER, "--format", "parquet", "-o", "-"], env), "parquet")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    fails(run_cli(["export", "--paper", PAPER, "-o", str(a_file / "out.csv")], env), str(a_file))
    missing = tmp_path / "no-folder" / "out.csv"
    fails(run_cli(["export", "--paper", PAPER, "-o", str(missing)], env), "no-folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing half-written

    out.write_text("a researcher's own file")
    fails(run_cli(["export", "--paper", PAPER, "-o", str(out)], env), str(out), "--force")
    assert out.read_text() == "a researcher's own file"
    run = run_cli(["export", "--paper", PAPER, "-o", str(out), "--force"], env)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert len(pd.read_csv(out)) == len(demo["keys"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "out.csv"]


def test_a_failed_or_interrupted_export_leaves_nothing(tmp_path):
    def rows_then(failure: BaseException):
        yield {name: None for name in export.SCHEMA.names}
        raise failure

    for fmt in export.FORMATS:
        target = tmp_path / f"out.{fmt}"
        for failure in (OSError("S3 went away"), KeyboardInterrupt()):
            with pytest.raises(type(failure)):
                export.write_rows(rows_then(failure), fmt, target)
            assert list(tmp_path.iterdir()) == []
    with pytest.raises(export.ExportError, match="pipe"):
        export.write_rows([], "parquet", NotSeekable())


class NotSeekable(io.BytesIO):
    def seekable(self) -> bool:
        return False


def test_docs_table_is_the_schema():
    text = (ROOT / "docs" / "exports.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+?) \|", text, re.M)
    assert [name for name, _ in documented] == export.SCHEMA.names
    for (name, kind), field in zip(documented, export.SCHEMA):
        base = re.match(r"[a-z]+\d*", str(field.type)).group(0)  # list, date32, timestamp…
        assert kind.startswith(base), (name, kind, str(field.type))


def test_the_bench_streams_every_format(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bench.export_bench", "--rows", "500", "--workdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    for fmt in export.FORMATS:
        assert re.search(rf"^\| {fmt} +\| +500 \|", run.stdout, re.M), run.stdout
    assert "peak RSS at 500 rows / at 100 rows" in run.stdout
