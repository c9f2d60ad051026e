import datetime as dt

import pytest
import yaml

from papers.catalogue import (
    BUILTIN_PAPERS,
    ConfigError,
    get_paper,
    load_papers,
    parse_date,
    read_papers,
)
from replica import demo_sites

GOOD = """
- id: bcrb
  name: 白城日报
  family: founder-new
  edition_url: "http://127.0.0.1:9/bcrb/pc/layout/{date:%Y%m/%d}/node_01.html"
  schedule: "30 6 * * *"
"""


def write(tmp_path, text):
    path = tmp_path / "papers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_catalogue_loads_and_every_paper_resolves_today():
    papers = load_papers()
    assert papers, "papers.yaml is empty"
    for paper in papers.values():
        assert paper.edition_url(dt.date.today()).startswith("http")


def test_builtin_catalogue_reads_as_plain_yaml_reads_it():
    """The hardened reader (no aliases, bounded, only {date:FORMAT}) changes nothing of a
    valid file."""
    raw = yaml.safe_load(BUILTIN_PAPERS.read_text(encoding="utf-8"))
    papers = load_papers()
    assert list(papers) == [entry["id"] for entry in raw]
    for entry in raw:
        paper = papers[entry["id"]]
        assert (paper.name, paper.schedule, paper.confirmed) == (
            entry["name"],
            entry["schedule"],
            entry.get("confirmed", True),
        )
        eras = entry.get("eras", [entry])
        assert [(era.family, era.edition_url, era.start, era.end) for era in paper.eras] == [
            (era["family"], era["edition_url"], era.get("from"), era.get("to")) for era in eras
        ]


def test_every_replica_family_template_loads(tmp_path):
    sites = demo_sites()
    path = write(
        tmp_path,
        yaml.safe_dump(
            [site.paper_entry("http://127.0.0.1:9") for site in sites], allow_unicode=True
        ),
    )
    papers = read_papers(path)
    for site in sites:
        day = site.dates[0]
        assert papers[site.paper].edition_url(day) == "http://127.0.0.1:9" + site.url_for(day)


def test_extra_file_adds_a_paper_and_formats_its_template(tmp_path):
    paper = get_paper("bcrb", write(tmp_path, GOOD))
    assert (
        paper.edition_url(dt.date(2025, 4, 30))
        == "http://127.0.0.1:9/bcrb/pc/layout/202504/30/node_01.html"
    )
    assert paper.timezone == "Asia/Shanghai"


def test_eras_pick_the_family_of_the_date(tmp_path):
    path = write(
        tmp_path,
        """
- id: rmrb-test
  name: 人民日报
  eras:
    - to: 2024-11-30
      family: founder-classic
      edition_url: "http://h/rmrb/html/{date:%Y-%m/%d}/nbs.D110000renmrb_01.htm"
    - from: 2024-12-01
      family: founder-new
      edition_url: "http://h/rmrb/pc/layout/{date:%Y%m/%d}/node_01.html"
""",
    )
    paper = get_paper("rmrb-test", path)
    assert paper.era(dt.date(2024, 11, 30)).family == "founder-classic"
    assert paper.era(dt.date(2024, 12, 1)).family == "founder-new"


@pytest.mark.parametrize(
    "change, key",
    [
        (("family: founder-new", "family: wordpress"), "family"),
        (("{date:%Y%m/%d}", "2025"), "edition_url"),
        (('"30 6 * * *"', '"61 6 * * *"'), "schedule"),
        (("name: 白城日报", "name: 白城日报\n  colour: red"), "colour"),
        (("id: bcrb", "id: BC/RB"), "id"),
    ],
)
def test_bad_entries_name_the_paper_and_the_key(tmp_path, change, key):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as error:
        read_papers(path)
    message = str(error.value)
    assert f"'{key}'" in message and str(path) in message
    assert "bcrb" in message or "BC/RB" in message


def test_duplicate_paper_ids_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="'bcrb'.*duplicate"):
        read_papers(write(tmp_path, GOOD + GOOD))


def test_unknown_paper_and_bad_date_are_named():
    with pytest.raises(ConfigError, match="'no-such-paper'"):
        get_paper("no-such-paper")
    with pytest.raises(ConfigError, match="'2025-13-01'"):
        parse_date("2025-13-01")
