"""Replica e-paper sites for tests and the demo, built from the bundled seed pages.

site = build_site("founder-new", "bcrb", [date(2025, 4, 28)])
with ReplicaServer([site]) as srv:
    url = srv.base_url + site.url_for(date(2025, 4, 28))
    truth = site.truth(date(2025, 4, 28))
"""

from __future__ import annotations

from datetime import date

from .families import RENDERERS
from .server import GzipReplica, ReplicaServer
from .site import Site

__all__ = ["GzipReplica", "ReplicaServer", "Site", "build_site", "demo_sites", "FAMILIES"]

FAMILIES = tuple(RENDERERS)
DEMO_DATES = [date(2025, 4, 27), date(2025, 4, 28), date(2025, 4, 29)]


def build_site(family: str, paper: str, dates: list[date], **options) -> Site:
    """A replica of `paper` on a `family` CMS holding the editions of `dates`.

    Options common to all families: pages (default 4), missing ({date: 404|403|410|301};
    default: the two days after the last date), busy (how many articles answer 429
    with Retry-After once), robots_trap (default True: a front-page hotspot into the
    path robots.txt forbids), faults ({target: kind}, see replica/faults.py;
    with fault_retry_after, fault_size). Family renderers document their own.
    """
    try:
        renderer = RENDERERS[family]
    except KeyError:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(RENDERERS)}") from None
    return Site(family, paper, dates, renderer, **options)


def demo_sites() -> list[Site]:
    """The sites `epaper demo` serves: every family, the same days, so that the
    papers reprint each other's wire stories. The two founder-new papers carry three
    dates and the two dates without edition (404, 301); the other families one date,
    to keep the demo short."""
    return [
        build_site("founder-new", "bcrb", DEMO_DATES, skin="swiper"),
        build_site(
            "founder-new", "shrb", DEMO_DATES, skin="chunkicon", node="A01", content_dir="con"
        ),
        build_site("founder-classic", "pdtimes", DEMO_DATES[1:2], missing={}),
        build_site("paperindex", "dzrb", DEMO_DATES[1:2], missing={}),
        build_site("xmwb", "xmwb", DEMO_DATES[1:2], missing={}),
        build_site("whb", "whb", DEMO_DATES[1:2], missing={}),
        build_site("jfdaily", "jfdaily", DEMO_DATES[1:2], missing={}),
    ]
