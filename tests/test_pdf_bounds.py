"""Hostile page PDFs: a decompression bomb, a PDF that keeps the parser busy, one over
the size cap. Text extraction runs in a process of its own under a memory limit and a
timeout (text/pdftext.py), downloads are capped at 64 MiB (spiders/pipelines.py): each
such PDF gives no text, with its reason, and the edition is archived with every other
page's text. Real HTTP to a replica site, the real crawl and the real Prefect flow.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from urllib.parse import urlsplit

import pytest
import yaml

from flows.archive import archive_edition
from replica import ReplicaServer, build_site
from replica.pdf import inflating_pdf
from spiders.pipelines import MAX_PDF_BYTES
from storage import keys
from storage.archive import open_archive
from text.pdftext import MEMORY_MIB, extract, page_text

DAY = date(2025, 4, 28)
SLOW_TIMEOUT = 10  # s: the 64 MiB stream needs a minute; the bomb meets the memory bound in ~1 s


def test_a_decompression_bomb_stops_at_the_memory_limit_and_the_next_pdf_is_read():
    bomb = inflating_pdf(10**9)
    assert len(bomb) < 1 << 20
    assert extract(bomb).skipped == f"text extraction: over {MEMORY_MIB} MiB of memory"
    assert page_text(bomb) == ""
    site = build_site("founder-new", "bcrb", [DAY], pages=1)
    pdf = site.resolve(site.pdf_paths[DAY][1], "h").body
    assert "第01版" in extract(pdf).text and extract(pdf).skipped is None


def test_a_busy_pdf_is_killed_at_the_timeout(monkeypatch):
    monkeypatch.setenv("EPAPER_PDF_TEXT_TIMEOUT", str(SLOW_TIMEOUT))
    slow = inflating_pdf(64 << 20)
    assert extract(slow) == extract(slow)  # a fresh process each time, the same answer
    assert extract(slow).skipped == f"text extraction: over {SLOW_TIMEOUT} s"


def test_a_lower_memory_limit_is_kept(monkeypatch):
    monkeypatch.setenv("EPAPER_PDF_TEXT_MEMORY_MIB", "256")
    assert extract(inflating_pdf(300 << 20)).skipped == "text extraction: over 256 MiB of memory"


def test_unreadable_pdfs_say_why():
    result = extract(b"<html>404</html>")
    assert result.text == "" and result.skipped.startswith("unreadable PDF: ")


@pytest.mark.parametrize("name", ["EPAPER_PDF_TEXT_TIMEOUT", "EPAPER_PDF_TEXT_MEMORY_MIB"])
@pytest.mark.parametrize("value", ["0", "-3", "soon", "nan"])
def test_bad_bounds_are_refused_by_name(name, value, monkeypatch):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name}='{value}': a positive number"):
        extract(b"%PDF-1.4")


# --- one edition through the flow ------------------------------------------------------

FAULTS = {"pdf:2": "pdf_bomb", "pdf:3": "pdf_slow", "pdf:4": "huge"}
OVER_CAP = MAX_PDF_BYTES + (1 << 20)


@pytest.fixture(scope="module")
def hostile_run(s3_server, prefect_api, tmp_path_factory):
    home = tmp_path_factory.mktemp("pdf-bounds")
    endpoint, access_key, secret_key = s3_server
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "EPAPER_S3_ENDPOINT": endpoint,
            "EPAPER_S3_ACCESS_KEY": access_key,
            "EPAPER_S3_SECRET_KEY": secret_key,
            "EPAPER_S3_SECURE": "0",
            "EPAPER_S3_BUCKET": f"test-{uuid.uuid4().hex[:16]}",
            "EPAPER_HOME": str(home),
            "EPAPER_DOWNLOAD_DELAY": "0",
            "EPAPER_PDF_TEXT_TIMEOUT": str(SLOW_TIMEOUT),
        }.items():
            mp.setenv(name, value)
        site = build_site("founder-new", "bcrb", [DAY], pages=5, faults=FAULTS, fault_size=OVER_CAP)
        with ReplicaServer([site]) as server:
            papers_file = home / "papers.yaml"
            papers_file.write_text(
                yaml.safe_dump([site.paper_entry(server.base_url)], allow_unicode=True),
                encoding="utf-8",
            )
            state = archive_edition(
                site.paper, DAY.isoformat(), str(papers_file), return_state=True
            )
            with open_archive() as archive:
                manifest = json.loads(archive.get(keys.edition_manifest(site.paper, DAY)))
                texts = {
                    no: archive.get(keys.page_text(site.paper, DAY, no)).decode("utf-8")
                    for no in range(1, 6)
                    if no != 4
                }
                pdfs = {
                    p["page_no"]: archive.get(p["pdf_key"])
                    for p in manifest["pages"]
                    if p["pdf_key"]
                }
        yield {
            "site": site,
            "result": state.result(),
            "manifest": manifest,
            "texts": texts,
            "pdfs": pdfs,
            "skipped": {urlsplit(s["url"]).path: s["reason"] for s in manifest["skipped"]},
        }


def test_the_edition_is_archived_with_every_other_pages_text(hostile_run, fault_report):
    run, site = hostile_run, hostile_run["site"]
    assert run["result"]["status"] == "complete" and run["manifest"]["status"] == "complete"
    assert [p["page_no"] for p in run["manifest"]["pages"]] == [1, 2, 3, 4, 5]
    for no in (1, 5):
        truth = site.resolve(site.pdf_paths[DAY][no], "h").body
        assert run["pdfs"][no] == truth and f"第{no:02d}版" in run["texts"][no]
        assert run["texts"][no] == page_text(truth)
    # the bomb and the busy PDF are archived as they came, without text
    assert run["pdfs"][2] == inflating_pdf(10**9) and run["texts"][2] == ""
    assert run["pdfs"][3] == inflating_pdf(64 << 20) and run["texts"][3] == ""
    fault_report.row(
        "Page PDF decompression bomb (0.99 MB inflating to 10^9 bytes)",
        f"text extraction stopped at its memory limit ({MEMORY_MIB} MiB, a process of its own); "
        "the PDF archived without text",
        "the edition archived, every other page's text extracted",
    )
    fault_report.row(
        "Page PDF that keeps the parser busy (64 KiB, a 64 MiB content stream: a minute of CPU)",
        f"text extraction killed at its timeout (30 s; {SLOW_TIMEOUT} s in the test); "
        "the PDF archived without text",
        "the edition archived, every other page's text extracted",
    )


def test_a_pdf_over_the_size_cap_is_skipped_as_too_large(hostile_run, fault_report):
    run, site = hostile_run, hostile_run["site"]
    page4 = next(p for p in run["manifest"]["pages"] if p["page_no"] == 4)
    assert page4["pdf_key"] is None and 4 not in run["pdfs"]
    assert run["skipped"][site.pdf_paths[DAY][4]] == f"too large: over {MAX_PDF_BYTES} bytes"
    fault_report.row(
        f"Page PDF over the size cap ({OVER_CAP >> 20} MiB, no Content-Length)",
        f"download cut at {MAX_PDF_BYTES >> 20} MiB; the page kept without its PDF, skipped as "
        "`too large`",
        "the edition archived, every other page's text extracted",
    )


def test_pdfs_without_text_are_in_the_manifests_skipped(hostile_run, fault_report):
    site, skipped = hostile_run["site"], hostile_run["skipped"]
    reasons = {no: skipped.get(site.pdf_paths[DAY][no]) for no in (2, 3)}
    assert reasons == {
        2: f"text extraction: over {MEMORY_MIB} MiB of memory",
        3: f"text extraction: over {SLOW_TIMEOUT} s",
    }
    fault_report.row(
        "Page PDF over the text extraction bounds, in the manifest",
        "listed in the manifest's `skipped` with its reason",
        "the PDF archived",
    )
