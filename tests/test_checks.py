"""Edition checks: each invariant on its own, then through a real crawl, Prefect flow run,
SeaweedFS and the CLI: a normal edition is complete, one that lost pages is published
incomplete with its checks, the run ends Failed and the CLI exits 1 in one line."""

from __future__ import annotations

from papers import checks


def page(no, url=None, kind="news"):
    return {"page_no": no, "url": url or f"http://e/node_{no}.htm", "kind": kind}


def article(no, url):
    return {"page_no": no, "url": url}


def test_page_numbers_unique_and_contiguous():
    assert checks.page_numbers([page(1), page(2), page(3)]) == []
    assert checks.page_numbers([]) == []
    assert checks.page_numbers([page(1), page(5), page(5), page(5)]) == [
        {"check": "page_numbers", "detail": "page numbers repeated: 5"},
        {"check": "page_numbers", "detail": "pages missing: 2-4"},
    ]
    assert checks.page_numbers([page(1), page(2), page(4), page(6)])[0]["detail"] == (
        "pages missing: 3, 5"
    )


def test_a_page_that_is_an_article_fails():
    pages = [page(1), page(2, "http://e/content_7.htm")]
    articles = [article(1, "http://e/content_7.htm"), article(1, "http://e/content_8.htm")]
    assert checks.pages_not_articles(pages, articles) == [
        {
            "check": "pages_not_articles",
            "detail": "1 page URLs are article URLs, first http://e/content_7.htm",
        }
    ]
    assert checks.pages_not_articles([page(1)], articles) == []


def test_every_news_page_has_articles_an_ad_page_need_not():
    pages = [page(1), page(2), page(3, kind="ad"), page(4)]
    articles = [article(1, "http://e/c1.htm"), article(4, "http://e/c4.htm")]
    assert checks.pages_have_articles(pages, articles) == [
        {"check": "pages_have_articles", "detail": "pages without articles: 2"}
    ]
    assert checks.pages_have_articles(pages[:1], articles) == []


def test_linked_articles_are_archived_or_skipped_with_a_reason():
    pages = [page(1), page(2)]
    articles = [article(1, "http://e/c1.htm"), article(1, "http://e/c2.htm")]
    skipped = [
        {"url": "http://e/c3.htm", "reason": "http 404"},
        {"url": pages[1]["url"], "reason": "timeout"},  # a page: not an article's account
    ]
    assert checks.articles_accounted(3, articles, skipped, pages) == []
    assert checks.articles_accounted(None, [], [], pages) == [], "links not counted: no verdict"
    assert checks.articles_accounted(5, articles, skipped, pages) == [
        {
            "check": "articles_accounted",
            "detail": "2 of 5 linked articles neither archived nor skipped "
            "(2 archived, 1 skipped)",
        }
    ]


def test_an_edition_under_half_its_recent_median_is_suspect():
    assert checks.article_count(9, [20, 22, 18]) == [
        {
            "check": "article_count",
            "detail": "9 articles, under 50% of the median 20 of the last 3 editions",
        }
    ]
    assert checks.article_count(10, [20, 22, 18]) == []
    assert checks.article_count(1, [20]) == [], "one earlier edition says too little"
    assert checks.article_count(0, []) == []


def test_edition_checks_gathers_every_failure_and_names_them_once():
    pages = [page(1), page(1), page(3)]
    failed = checks.edition_checks(pages, [article(1, "http://e/c1.htm")], [], None, 1, [8, 8])
    assert [c["check"] for c in failed] == [
        "page_numbers",
        "page_numbers",
        "pages_have_articles",
        "article_count",
    ]
    assert checks.names(failed) == "page_numbers, pages_have_articles, article_count"
    normal = [page(1), page(2)]
    arts = [article(1, "http://e/c1.htm"), article(2, "http://e/c2.htm")]
    assert checks.edition_checks(normal, arts, [], 2, 2, [2, 3]) == []
