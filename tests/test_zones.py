"""Page images and hotspot zones (the reading room's edition page, issue 18): a replica
edition archived through the Prefect flow into SeaweedFS; each manifest page names its
scanned image (stored as the site served it, its size read from the header) and each
article its zone on it, as the page's image map draws it."""

from __future__ import annotations

import io
import json

from PIL import Image

from flows.archive import archive_edition
from spiders.pipelines import image_format, image_size
from storage import keys
from storage.archive import open_archive
from tests.fixtures.edition import DAYS


def manifest_of(archive, paper: str, day) -> dict:
    return json.loads(archive.get(keys.edition_manifest(paper, day)))


def test_pages_carry_their_image_and_articles_their_zone(sites, papers):
    server, papers_file = papers
    for site in sites:
        day = DAYS[0]
        assert archive_edition(site.paper, day.isoformat(), papers_file)["status"] == "complete"
        truth = site.truth(day)
        with open_archive() as archive:
            manifest = manifest_of(archive, site.paper, day)
            for page, want in zip(manifest["pages"], truth["pages"], strict=True):
                assert page["image_key"] == keys.page_image(site.paper, day, page["page_no"], "jpg")
                stored = archive.get(page["image_key"])
                assert stored == site.resolve(want["image_url"], "h").body
                with Image.open(io.BytesIO(stored)) as image:
                    assert (page["width"], page["height"]) == image.size
            news = {server.base_url + a["url"]: a for a in truth["articles"] if a["kind"] == "news"}
            assert {a["url"] for a in manifest["articles"]} == set(news)
            for listed in manifest["articles"]:
                want = news[listed["url"]]["zone"]
                assert want and listed["zone"] == want, listed["url"]
                article = json.loads(archive.get(listed["key"], version_id=listed["version_id"]))
                assert article["zone"] == want
            hidden = [u for u, a in news.items() if a["hidden"]]
            assert hidden, "the replica hides articles behind hotspots"
            zones = {a["url"]: a["zone"] for a in manifest["articles"]}
            assert all(zones[u] for u in hidden), "an article reached only by the map has its zone"


def test_an_edition_whose_image_fails_is_complete_and_says_why(sites, papers):
    server, papers_file = papers
    site, day = sites[0], DAYS[0]
    gone, html = site.image_paths[day][2], site.image_paths[day][3]
    site.set_faults({gone: 404})
    site.routes[html] = site.routes[site.page_paths[day][3]]  # an "image" that is a page
    result = archive_edition(site.paper, day.isoformat(), papers_file)
    assert result["status"] == "complete", result.get("checks")
    with open_archive() as archive:
        manifest = manifest_of(archive, site.paper, day)
        pages = {p["page_no"]: p for p in manifest["pages"]}
        for no in (2, 3):
            assert not {"image_key", "width", "height"} & set(pages[no])  # no image, no fields
            assert not archive.exists(keys.page_image(site.paper, day, no, "jpg"))
        assert pages[1]["image_key"] and pages[4]["image_key"]
        assert pages[2]["pdf_key"], "the page keeps its PDF"
        skipped = {s["url"]: s["reason"] for s in manifest["skipped"]}
        assert skipped[server.base_url + gone] == "http 404"
        assert skipped[server.base_url + html] == "not an image: text/html"
        assert len(manifest["articles"]) == len(
            [a for a in site.truth(day)["articles"] if a["kind"] == "news"]
        )


def test_an_old_manifest_without_images_and_zones_merges(sites, papers):
    """An edition archived before page images: its manifest lacks image_key, width,
    height and zone. Archived again with one article failing, the old entry is kept as it
    was, the rest gain the new fields."""
    server, papers_file = papers
    site, day = sites[0], DAYS[0]
    first = archive_edition(site.paper, day.isoformat(), papers_file)
    key = keys.edition_manifest(site.paper, day)
    with open_archive() as archive:
        old = manifest_of(archive, site.paper, day)
        for page in old["pages"]:
            for field in ("image_key", "width", "height"):
                del page[field]
        for listed in old["articles"]:
            del listed["zone"]
        archive.put(key, json.dumps(old, ensure_ascii=False).encode(), "application/json")
    site.set_faults({"article:1": 404})
    failing = server.base_url + site.fault_paths("article:1")[0]
    again = archive_edition(site.paper, day.isoformat(), papers_file)
    assert again["status"] == "complete" and again["changed"]
    with open_archive() as archive:
        manifest = manifest_of(archive, site.paper, day)
    assert [a["key"] for a in manifest["articles"]] == [a["key"] for a in first["articles"]]
    kept = next(a for a in manifest["articles"] if a["url"] == failing)
    assert "zone" not in kept, "the kept entry is the archived one, unchanged"
    assert all(a["zone"] for a in manifest["articles"] if a["url"] != failing)
    assert all(p["image_key"] for p in manifest["pages"])


def test_image_headers_give_format_and_size():
    for fmt, ext in (("JPEG", "jpg"), ("PNG", "png"), ("GIF", "gif")):
        out = io.BytesIO()
        Image.new("L", (321, 123), 200).save(out, fmt)
        data = out.getvalue()
        assert image_format(data[:16]) == ext
        assert image_size(data) == (321, 123), fmt
    progressive = io.BytesIO()
    Image.new("RGB", (64, 48)).save(progressive, "JPEG", progressive=True)
    assert image_size(progressive.getvalue()) == (64, 48)
    assert image_format(b"<!DOCTYPE html>") is None and image_size(b"<html>") is None
