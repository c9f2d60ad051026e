"""The spider of each family: the walk its `papers.family` entry declares, by walk type."""

from __future__ import annotations

from papers.family import ApiWalk, Family, Walk

from .api import ApiEditionSpider
from .base import EditionSpider

SPIDERS: dict[type, type[EditionSpider]] = {Walk: EditionSpider, ApiWalk: ApiEditionSpider}


def spider_class(family: Family) -> type[EditionSpider]:
    """The spider class that walks `family`'s editions; crawl it with `family=family`."""
    return SPIDERS[type(family.walk)]
