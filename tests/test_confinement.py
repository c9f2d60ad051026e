"""A crawl fetches only the paper's own site: its scheme, host and port, and no local or
private address unless the paper itself is configured on one (the replicas are)."""

from __future__ import annotations

import pytest

from spiders.middlewares import off_site_reason, site_domain

REPLICA = "http://127.0.0.1:41234/bcrb/pc/layout/202504/28/node_01.html"
REAL = "http://paper.example.com/html/2025-04/28/node_1.htm"


def reason(url: str, edition: str) -> str | None:
    return off_site_reason(url, edition, site_domain(edition))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:41234/bcrb/pc/content/202504/28/content_1.html",
        "http://127.0.0.1:41234/robots.txt",
    ],
)
def test_the_replicas_own_port_is_on_site(url):
    assert reason(url, REPLICA) is None


@pytest.mark.parametrize(
    "url, why",
    [
        # the embedded SeaweedFS master on the same address: the link that wiped the archive
        ("http://127.0.0.1:9333/col/delete?collection=epaper-archive", "not the site's port"),
        ("http://127.0.0.1:8888/buckets/epaper-archive/", "not the site's port"),
        ("http://127.0.0.1/", "not the site's port"),
        ("ftp://127.0.0.1:41234/file.pdf", "scheme ftp"),
        ("file:///etc/passwd", "scheme file"),
        ("gopher://127.0.0.1:41234/", "scheme gopher"),
        ("http://localhost:41234/", "outside"),
    ],
)
def test_other_ports_schemes_and_hosts_are_refused(url, why):
    assert why in (reason(url, REPLICA) or "")


def test_a_real_paper_may_switch_between_http_and_https_but_not_to_other_ports():
    assert reason("https://paper.example.com/html/2025-04/28/content_1.htm", REAL) is None
    assert reason("http://www.example.com:80/a.htm", REAL) is None
    assert "not the site's port" in reason("http://paper.example.com:8080/a.htm", REAL)


def test_a_sub_domain_resolving_to_loopback_is_refused_for_a_public_paper():
    # "localhost" resolves to 127.0.0.1 on every machine: a stand-in for a hostile
    # sub-domain whose DNS answer is a loopback or private address.
    edition = "http://paper.localhost.example/node_1.htm"
    url = "http://localhost/col/delete"
    assert "outside" in (reason(url, edition) or "")
    assert "local or private" in (off_site_reason(url, edition, "localhost") or "")
