"""The `epaper` command line (contract: docs/architecture.md, section CLI).

Local state (embedded S3 data, catalog, work folders, logs) lives in EPAPER_HOME, by default
$XDG_DATA_HOME/epaper (~/.local/share/epaper): the same archive from whatever folder you run in.
After `epaper demo`, its papers (demo-*) are known to every command without --papers."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from epaper.report import summary
from papers.home import epaper_home, settle_home

# Closed networks: Prefect must not try to phone home.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The first ephemeral API server migrates its database: ~30 s on 2 cores, over Prefect's default.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


class CommandError(Exception):
    """A failure the user can act on, printed as one line."""


def demo_papers_file() -> Path:
    """Where `epaper demo` keeps the papers file of its replica sites."""
    return epaper_home() / "demo-papers.yaml"


def papers_file(args) -> str | None:
    """--papers, else the demo's papers file once there is one: its ids (demo-*) are its own,
    so it adds papers and overrides none."""
    if args.papers:
        return args.papers
    demo = demo_papers_file()
    return str(demo) if demo.exists() else None


def cmd_archive(args) -> None:
    from papers.catalogue import get_paper, parse_date

    papers = papers_file(args)
    # a bad paper or date, or a site no family fits, fails before Prefect starts
    get_paper(args.paper, papers).era(parse_date(args.date))
    from epaper.runner import flow_at_terminal
    from flows.archive import EditionIncomplete, archive_edition

    with flow_at_terminal("archive", args.verbose, progress_line) as args.log:
        try:
            print(summary(archive_edition(args.paper, args.date, papers)))
        except EditionIncomplete as exc:  # published all the same: the line says where
            raise CommandError(summary(exc.result)) from None


def progress_line(record) -> str:
    """A backfill's line per date as it ends: "[dates done/dates to do, ETA H:MM:SS] <summary>"
    (no ETA on the last date); its note of the dates archived before, as it is."""
    if not hasattr(record, "edition"):
        return record.getMessage()
    if getattr(record, "eta", None) is not None and record.done < record.total:
        eta = f", ETA {dt.timedelta(seconds=round(record.eta))}"
    else:
        eta = ""
    return f"[{record.done}/{record.total}{eta}] {summary(record.edition)}"


def cmd_backfill(args) -> None:
    from epaper.runner import flow_at_terminal
    from flows.backfill import EditionsFailed, backfill

    with flow_at_terminal("backfill", args.verbose, progress_line) as args.log:
        try:
            backfill(args.paper, args.start, args.end, papers_file(args))
        except EditionsFailed as exc:  # each date not archived and why, then the one line
            for result in exc.results:
                if result["status"] in ("failed", "incomplete"):
                    print(
                        f"epaper: {args.paper} {result['date']} {result['status']}: "
                        f"{result['reason']}",
                        file=sys.stderr,
                    )
            raise


def cmd_reprocess(args) -> None:
    from papers.catalogue import get_paper, parse_date

    papers = papers_file(args)
    get_paper(args.paper, papers)
    parse_date(args.date)
    from flows.archive import EditionIncomplete
    from flows.reprocess import reprocess_edition

    try:
        print(summary(reprocess_edition(args.paper, args.date, papers)))
    except EditionIncomplete as exc:  # published all the same: the line says where
        raise CommandError(summary(exc.result)) from None


def cmd_papers(args) -> None:
    from papers.catalogue import load_papers

    for paper in load_papers(papers_file(args)).values():
        era = paper.eras[-1]
        mark = "" if paper.confirmed else "  (address unconfirmed)"
        print(
            f"{paper.id:12} {paper.name:10} {era.family:16} {paper.schedule:14} "
            f"{era.edition_url}{mark}"
        )


def cmd_deployments(args) -> None:
    from pathlib import Path

    from epaper import deployments
    from papers.catalogue import load_papers

    path = Path(args.output).resolve()
    papers = f"papers.yaml and {args.papers}" if args.papers else "papers.yaml"
    if args.check:
        if deployments.drifted(path, args.papers):
            papers_option = ["--papers", args.papers] if args.papers else []
            again = " ".join(["epaper deployments", *papers_option, "-o", args.output])
            raise CommandError(f"{path} is out of step with {papers}: run `{again}`")
        print(f"{path} matches {papers}")
    else:
        deployments.write(path, args.papers)
        print(f"wrote {path} from {papers}")
    unfit = deployments.unfit(load_papers(args.papers))
    if unfit:
        print(
            f"epaper: note: no deployment for {len(unfit)} papers no family fits "
            f"(family: none): {', '.join(unfit)}",
            file=sys.stderr,
        )


def cmd_setup_prefect(args) -> None:
    from epaper import deployments
    from papers.catalogue import load_papers

    if args.fetch_limit is not None and args.fetch_limit < 0:
        raise CommandError(f"--fetch-limit {args.fetch_limit}: a number of crawls, 0 for no cap")
    if args.crash_after < 60:
        raise CommandError(
            f"--crash-after {args.crash_after}: under 60 s, two heartbeats at Prefect's shortest "
            "interval (30 s): live runs would be crashed"
        )
    for line in deployments.setup_prefect(
        load_papers(args.papers), args.fetch_limit, args.crash_after
    ):
        print(line)


def archive_place(archive, embedded: bool) -> str:
    """Which archive a command read, for a user who expected another."""
    if embedded:
        return f"{os.environ['EPAPER_HOME']} (bucket {archive.bucket!r} of the embedded S3 server)"
    return f"bucket {archive.bucket!r} at {archive.endpoint} (EPAPER_S3_ENDPOINT)"


def cmd_ls(args) -> None:
    from papers.catalogue import BUILTIN_PAPERS, load_papers
    from storage import keys
    from storage.archive import open_archive

    papers = papers_file(args)
    embedded = not os.environ.get("EPAPER_S3_ENDPOINT")
    with open_archive() as archive:
        prefix = f"editions/{keys.paper_id(args.paper)}/" if args.paper else "editions/"
        editions = [
            key.split("/")[1:3] for key in archive.list(prefix) if key.endswith("/manifest.json")
        ]
        # A paper archived from a papers file not given here is known by its editions.
        if args.paper and not editions and args.paper not in load_papers(papers):
            raise CommandError(
                f"unknown paper {args.paper!r}: not in {BUILTIN_PAPERS.name}"
                + (f" or {papers}" if papers else "")
                + f", and no editions of it in {archive_place(archive, embedded)}"
            )
        if args.paper and args.date:
            key = keys.edition_manifest(args.paper, args.date)
            if not archive.exists(key):
                raise CommandError(
                    f"no archived edition {args.paper} {args.date} ({key}) "
                    f"in {archive_place(archive, embedded)}"
                )
            manifest = json.loads(archive.get(key))
            for article in manifest["articles"]:
                print(f"{article['page_no']:>3}  {article['key']}  {article['title']}")
            return
        for paper, date in editions:
            print(f"{paper} {date}")
        if not editions:
            of = f" of {args.paper}" if args.paper else ""
            print(f"epaper: no editions{of} in {archive_place(archive, embedded)}", file=sys.stderr)


def cmd_show(args) -> None:
    from storage.archive import open_archive

    with open_archive() as archive:
        data = archive.get(args.key, version_id=args.version)
    sys.stdout.buffer.write(data)
    if not data.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")


def cmd_versions(args) -> None:
    from storage.archive import open_archive

    with open_archive() as archive:
        history = archive.versions(args.key)
    if not history:
        raise CommandError(f"no such object: {args.key}")
    for version in history:
        print(
            f"{version['version_id']}  {'latest' if version['is_latest'] else '      '}  "
            f"{version['last_modified']:%Y-%m-%d %H:%M:%S}  {version['size']:>9}"
        )


def cmd_presign(args) -> None:
    from datetime import timedelta

    from storage.archive import open_archive

    embedded = not os.environ.get("EPAPER_S3_ENDPOINT")
    with open_archive() as archive:
        archive.stat(
            args.key, version_id=args.version
        )  # a URL to nothing helps no one: fail naming the key
        print(
            archive.presign(
                args.key, expires=timedelta(seconds=args.expires), version_id=args.version
            )
        )
    if embedded:
        print(
            "epaper: note: the embedded S3 server stopped with this command; the URL works "
            f"while it runs again on {archive.endpoint} "
            "(`python -m storage.s3server` reuses the port)",
            file=sys.stderr,
        )


def cmd_cluster(args) -> None:
    import shutil

    from dataset.reprints import EvidenceError, evidence_lines, reprint_evidence
    from storage.archive import open_archive
    from storage.catalog import Catalog

    with Catalog() as catalog, open_archive() as archive:
        try:
            evidence = reprint_evidence(archive, catalog, args.key)
        except EvidenceError as exc:
            raise CommandError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(evidence, ensure_ascii=False, indent=2))
        return
    for line in evidence_lines(evidence, shutil.get_terminal_size((100, 24)).columns):
        print(line)


def cmd_export(args) -> None:
    from contextlib import ExitStack, nullcontext
    from itertools import chain

    from dataset import export
    from papers.catalogue import BUILTIN_PAPERS, load_papers, parse_date
    from storage.archive import open_archive
    from storage.catalog import Catalog

    start, end = (parse_date(day) if day else None for day in (args.start, args.end))
    if start and end and start > end:
        raise CommandError(f"--from {start} is after --to {end}: nothing in between")
    to_stdout = args.output == "-"
    fmt = export.format_of(args.format, None if to_stdout else args.output)
    if to_stdout and not fmt.stream:
        raise CommandError(f"{fmt.name} cannot go to stdout (its readers seek): give -o FILE")
    span = (f" from {start}" if start else "") + (f" to {end}" if end else "")
    papers = papers_file(args)
    embedded = not os.environ.get("EPAPER_S3_ENDPOINT")
    if args.query is None and (args.page or args.region or args.wire is not None):
        raise CommandError("--page, --region, --wire and --local narrow a --query: give one")
    with ExitStack() as stack:
        # The output first: a path that cannot be written fails before the archive opens.
        out = stack.enter_context(
            nullcontext(sys.stdout.buffer) if to_stdout else export.output(args.output, args.force)
        )
        archive = stack.enter_context(open_archive())
        catalog = stack.enter_context(Catalog())
        if args.query is not None:
            from dataset.search import SearchIndex  # jieba: only for a search

            index = stack.enter_context(SearchIndex())
            found = index.keys(
                args.query,
                paper=args.paper,
                date_from=start,
                date_to=end,
                page=args.page,
                region=args.region,
                wire=args.wire,
            )
            first = next(found, None)  # a bad query fails here, before anything is written
            if first is None:
                raise CommandError(
                    f"no archived article matches {args.query!r}"
                    + (f" in {args.paper}" if args.paper else "")
                    + span
                )
            rows = export.rows_for_keys(archive, catalog, chain([first], found))
        elif args.cluster:
            members = catalog.cluster_of(args.cluster)
            if not members:
                raise CommandError(f"{args.cluster} is not in the catalog")
            chosen = [
                m["key"]
                for m in members
                if args.paper in (None, m["paper"])
                and (start is None or m["date"] >= start.isoformat())
                and (end is None or m["date"] <= end.isoformat())
            ]
            if not chosen:
                raise CommandError(
                    f"no member of the cluster of {args.cluster}"
                    + (f" in {args.paper}" if args.paper else "")
                    + span
                )
            rows = export.rows_for_keys(archive, catalog, chosen)
        else:
            manifests = export.edition_manifests(archive, args.paper, start, end)
            if not manifests:
                known = args.paper is None or args.paper in load_papers(papers)
                if not known and not export.edition_manifests(archive, args.paper):
                    raise CommandError(
                        f"unknown paper {args.paper!r}: not in {BUILTIN_PAPERS.name}"
                        + (f" or {papers}" if papers else "")
                        + f", and no editions of it in {archive_place(archive, embedded)}"
                    )
                raise CommandError(
                    "no archived editions"
                    + (f" of {args.paper}" if args.paper else "")
                    + f"{span} in {archive_place(archive, embedded)}"
                )
            rows = export.manifest_rows(archive, catalog, manifests)
        count = export.write_rows(rows, fmt.name, out)
        if not count:  # no empty file: editions without articles, keys of another bucket
            raise CommandError(
                f"nothing to export: no article{span} in {archive_place(archive, embedded)}"
            )
    print(
        f"exported {count} articles as {fmt.name} to {'stdout' if to_stdout else args.output}",
        file=sys.stderr if to_stdout else sys.stdout,
    )


def cmd_search(args) -> None:
    from dataset.search import SearchIndex, write_results

    if args.limit < 1:
        raise CommandError(f"--limit {args.limit}: at least 1")
    with SearchIndex() as index:
        result = index.search(
            args.query,
            paper=args.paper,
            date_from=args.start,
            date_to=args.end,
            page=args.page,
            region=args.region,
            wire=args.wire,
            limit=args.limit,
        )
    write_results(result, args.format, sys.stdout)


def cmd_index(args) -> None:
    from dataset.search import SearchIndex
    from papers.catalogue import load_papers
    from storage.archive import open_archive

    with SearchIndex() as index:
        if args.rebuild:
            regions = {p.id: p.region for p in load_papers(papers_file(args)).values()}
            embedded = not os.environ.get("EPAPER_S3_ENDPOINT")
            with open_archive() as archive:
                n = index.rebuild(archive, regions)
                place = archive_place(archive, embedded)
            print(f"indexed {n} articles of {place} into {index.url}")
        else:
            print(f"{index.count()} articles indexed in {index.url}")


def cmd_health(args) -> None:
    from papers.catalogue import get_paper, load_papers
    from storage.archive import open_archive
    from storage.health import archive_health

    papers = papers_file(args)
    chosen = [get_paper(args.paper, papers)] if args.paper else load_papers(papers).values()
    with open_archive() as archive:
        report = archive_health(archive, chosen, days=args.days)
    for health in report:
        print(health.line())
    if args.paper:  # the named paper's details: what was missed, and each edition
        print(f"  missing: {', '.join(report[0].missing) or 'none'}")
        for edition in report[0].editions:
            print(
                f"  {edition.date}  {edition.status:<10} {edition.articles:>4} articles"
                + "".join(f"\n      {reason}" for reason in edition.reasons)
            )


def cmd_demo(args) -> None:
    from epaper.demo import run_demo
    from epaper.runner import flow_at_terminal

    with flow_at_terminal("demo", args.verbose, progress_line) as args.log:
        run_demo()


SERVE_PORT = 8600


def cmd_serve(args) -> None:
    import uvicorn

    from web.app import create_app

    token = args.token or os.environ.get("EPAPER_WEB_TOKEN") or None
    if args.host not in ("127.0.0.1", "localhost", "::1") and not token:
        print(
            f"epaper: note: serving on {args.host} without an access token "
            "(--token or EPAPER_WEB_TOKEN): anyone who reaches it can read the archive",
            file=sys.stderr,
        )
    app = create_app(papers_file(args), token=token, replay_base=args.replay)
    print(f"reading room on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


def cmd_wacz(args) -> None:
    from dataset.wacz import NoEdition, build_wacz, month_range, spans
    from epaper.report import plural
    from papers.catalogue import parse_date
    from storage.archive import open_archive

    if args.month:
        if args.to:
            raise CommandError(f"--to {args.to} goes with --date, not with --month {args.month}")
        start, end = month_range(args.month)
    else:
        start, end = parse_date(args.date), parse_date(args.to) if args.to else None
    embedded = not os.environ.get("EPAPER_S3_ENDPOINT")
    out = Path(args.output) if args.output else None
    with open_archive() as archive:
        try:
            package = build_wacz(archive, args.paper, start, end, out, args.to_bucket)
        except NoEdition as exc:
            raise CommandError(f"{exc} in {archive_place(archive, embedded)}") from None
    print(
        f"wrote {package.path} (valid WACZ): {plural(package.pages, 'article')} of "
        f"{plural(len(package.editions), 'edition')} ({spans(package.editions)}), "
        f"{plural(len(package.warcs), 'WARC')}"
    )
    if package.key:
        print(f"bucket: {package.key} (version {package.version_id})")
    if package.missing:
        print(
            f"epaper: note: no archived edition of {args.paper} on {spans(package.missing)}",
            file=sys.stderr,
        )
    if package.uncaptured:
        print(
            f"epaper: note: {plural(len(package.uncaptured), 'article')} with no capture in "
            f"the WARCs, left out of the page list: {', '.join(package.uncaptured)}",
            file=sys.stderr,
        )


REPLAY_PORT = 8090


def cmd_replay(args) -> None:
    from dataset.replay import run_replay
    from storage.archive import open_archive

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"epaper: note: pywb on {args.host} serves every capture to anyone who reaches it",
            file=sys.stderr,
        )
    with open_archive() as archive:
        run_replay(archive, args.port, args.host, echo=lambda line: print(line, flush=True))


REPLICA_PORT = 8765


def cmd_replica(args) -> None:
    from epaper.demo import serve_replica

    serve_replica(args.family, args.port, Path(args.papers_out) if args.papers_out else None)


def cmd_probe(args) -> None:
    import yaml

    from papers.catalogue import get_paper, parse_date, parse_paper
    from spiders import probe

    day = parse_date(args.date) if args.date else None
    if "://" not in args.target:
        if day is None:
            raise CommandError(f"probe {args.target}: a catalogued paper needs --date YYYY-MM-DD")
        paper = get_paper(args.target, papers_file(args))
        layout = paper.layout(day)
        url = paper.edition_url(day)
        fits = probe.probe(url, day, paper.id, layout.encoding, args.requests)
        if probe.best(fits) is None and any(fit.missing for fit in fits):
            raise CommandError(probe.no_edition(url, fits))
        print("\n".join(probe.table(fits)))
        fits_its_family, line = probe.verdict(paper.id, layout.family, day, fits)
        if not fits_its_family:
            raise CommandError(line)
        print(line)
        return
    day, template = probe.find_date(args.target, day)
    fits = probe.probe(args.target, day, probe.suggest_id(args.target), requests=args.requests)
    top = probe.best(fits)
    if top is None:
        raise CommandError(probe.no_edition(args.target, fits))
    print("\n".join(probe.table(fits)))
    entry = probe.paper_entry(args.target, template, day, top)
    parse_paper(entry, "epaper probe")  # what is printed is an entry papers.yaml accepts
    print(f"\n# a papers.yaml entry (edition {day}, best fit {top.family}): name the paper")
    print(yaml.safe_dump([entry], allow_unicode=True, sort_keys=False), end="")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epaper", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="Prefect's log on the terminal too (it goes to EPAPER_HOME/logs)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    papers_help = (
        "YAML file whose entries add to (or override) the built-in papers.yaml "
        "(default: the demo's, EPAPER_HOME/demo-papers.yaml, once `epaper demo` ran)"
    )

    p = sub.add_parser("archive", help="archive one edition (runs the Prefect flow)")
    p.add_argument("paper")
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_archive)

    p = sub.add_parser("backfill", help="archive every edition in a date range")
    p.add_argument("paper")
    p.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD")
    p.add_argument("--to", dest="end", required=True, help="YYYY-MM-DD")
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_backfill)

    p = sub.add_parser(
        "reprocess", help="clean and dedupe an archived edition again from its WARC, offline"
    )
    p.add_argument("paper")
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_reprocess)

    p = sub.add_parser("papers", help="list the catalogue of papers")
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_papers)

    p = sub.add_parser("deployments", help="write prefect.yaml from papers.yaml")
    p.add_argument("--check", action="store_true", help="only check that they match")
    p.add_argument("--papers", help=papers_help)
    p.add_argument(
        "-o",
        "--output",
        default="prefect.yaml",
        help="where to write prefect.yaml (default: the current folder's)",
    )
    p.set_defaults(run=cmd_deployments)

    from epaper.deployments import CRASH_AFTER

    p = sub.add_parser(
        "setup-prefect",
        help="create the work pool, concurrency limits and the crashed-run "
        "automation on the Prefect server",
    )
    p.add_argument("--papers", help=papers_help)
    p.add_argument(
        "--fetch-limit",
        type=int,
        help="cap on crawls at once across all hosts (0: no cap; default: leave it as set; "
        "politeness itself is one crawl per host at a time)",
    )
    p.add_argument(
        "--crash-after",
        type=int,
        default=CRASH_AFTER,
        metavar="SECONDS",
        help="mark a flow run Crashed after this long without a heartbeat (default %(default)s; "
        "at least 3x PREFECT_FLOWS_HEARTBEAT_FREQUENCY of the workers)",
    )
    p.set_defaults(run=cmd_setup_prefect)

    p = sub.add_parser(
        "ls",
        help="list archived editions, or one edition's articles",
        description="Without arguments: every archived edition (paper date). With PAPER: "
        "that paper's editions. With PAPER DATE: the edition's articles "
        "(page, object key, title).",
    )
    p.add_argument("paper", nargs="?", help="paper id, as `epaper papers` lists them (e.g. whb)")
    p.add_argument("date", nargs="?", help="edition date, YYYY-MM-DD (needs PAPER)")
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_ls)

    key_help = (
        "object key, e.g. editions/<paper>/<date>/manifest.json or an article's "
        "articles/<paper>/<date>/<page>/<id>.json (`epaper ls PAPER DATE` lists them)"
    )
    p = sub.add_parser("show", help="print one archived object (any version)")
    p.add_argument("key", help=key_help)
    p.add_argument(
        "--version",
        "--version-id",
        dest="version",
        help="version id, as `epaper versions KEY` lists them (default: latest)",
    )
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("versions", help="version history of one object")
    p.add_argument("key", help=key_help)
    p.set_defaults(run=cmd_versions)

    p = sub.add_parser("presign", help="a URL anyone can GET one archived object with, for a while")
    p.add_argument("key", help=key_help)
    p.add_argument(
        "--version-id",
        "--version",
        dest="version",
        help="sign this version, as `epaper versions KEY` lists them (default: latest)",
    )
    p.add_argument(
        "--expires",
        type=int,
        default=3600,
        help="seconds the URL stays valid (default 3600, at most 604800)",
    )
    p.set_defaults(run=cmd_presign)

    p = sub.add_parser(
        "cluster",
        help="an article's reprints across papers and dates, aligned against the earliest copy",
        description="Every archived copy of an article's story against the earliest copy: "
        "paper, date, similarity, headline and dateline changes, and the paragraphs "
        "aligned (= same, ~ edited with its similarity, - cut, + added); docs/reprints.md.",
    )
    p.add_argument(
        "key",
        help="an article's object key, articles/<paper>/<date>/<page>/<id>.json "
        "(`epaper ls PAPER DATE` lists them)",
    )
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for a terminal (default), or the evidence as JSON with whole paragraphs",
    )
    p.set_defaults(run=cmd_cluster)

    p = sub.add_parser(
        "export",
        help="export archived articles as a dataset (JSON Lines, CSV, Parquet)",
        description="One row per article (its fields, cluster, and the keys of its capture; "
        "docs/exports.md): whole papers or date ranges, the members of a cluster, or what a "
        "search finds.",
    )
    p.add_argument("--paper", help="only this paper's articles (default: every paper's)")
    p.add_argument("--from", dest="start", help="first edition date, YYYY-MM-DD")
    p.add_argument("--to", dest="end", help="last edition date, YYYY-MM-DD")
    chosen = p.add_mutually_exclusive_group()
    chosen.add_argument(
        "--cluster",
        metavar="KEY",
        help="every archived copy of this article's story "
        "(its key, articles/<paper>/<date>/<page>/<id>.json)",
    )
    chosen.add_argument(
        "--query", metavar="Q", help="the articles a search finds (`epaper search Q`), by date"
    )
    p.add_argument("--page", metavar="NAME", help="with --query: pages whose name contains NAME")
    p.add_argument("--region", help="with --query: papers whose region contains REGION")
    reach = p.add_mutually_exclusive_group()
    reach.add_argument(
        "--wire",
        dest="wire",
        action="store_const",
        const=True,
        help="with --query: stories printed by more than one paper",
    )
    reach.add_argument(
        "--local",
        dest="wire",
        action="store_const",
        const=False,
        help="with --query: one paper's stories",
    )
    p.add_argument(
        "--format", help="jsonl, csv or parquet (default: the suffix of the output file)"
    )
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="where to write; - for stdout"
    )
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_export)

    p = sub.add_parser(
        "search",
        help="full-text search of every archived article (Chinese words, names, phrases)",
        description="Every term must occur: a term is cut into jieba words, each found where "
        'its characters occur in a row; "a quoted phrase" must occur as written. Hits on '
        "whole words rank first. Ends with the number of hits per paper (docs/search.md).",
    )
    p.add_argument("query", help='e.g. 内需, 人工智能 上海, "加快建成具有全球影响力"')
    p.add_argument("--paper", help="only this paper's articles")
    p.add_argument("--from", dest="start", help="first edition date, YYYY-MM-DD")
    p.add_argument("--to", dest="end", help="last edition date, YYYY-MM-DD")
    p.add_argument("--page", metavar="NAME", help="only pages whose name contains NAME (要闻)")
    p.add_argument("--region", help="only papers whose region (papers.yaml) contains REGION")
    reach = p.add_mutually_exclusive_group()
    reach.add_argument(
        "--wire",
        dest="wire",
        action="store_const",
        const=True,
        help="only stories printed by more than one paper (reprint clusters)",
    )
    reach.add_argument(
        "--local", dest="wire", action="store_const", const=False, help="only one paper's stories"
    )
    p.add_argument("--format", choices=("table", "jsonl", "csv"), default="table")
    p.add_argument("--limit", type=int, default=20, help="hits to print (default %(default)s)")
    p.set_defaults(run=cmd_search)

    p = sub.add_parser(
        "index",
        help="the search index: how many articles it holds; --rebuild makes it from the bucket",
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="drop the index and make it again from the bucket's article JSON (derived data)",
    )
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_index)

    p = sub.add_parser(
        "health",
        help="site health: per paper its last complete edition, missed and incomplete editions",
        description="One line per paper: due dates (by its schedule) with no archived edition, "
        "incomplete editions and why, its last complete edition and article counts. With "
        "PAPER: also each edition of the window (date, status, articles, reasons).",
    )
    p.add_argument("paper", nargs="?", help="paper id, as `epaper papers` lists them")
    p.add_argument(
        "--days", type=int, default=30, help="days to look back over (default %(default)s)"
    )
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_health)

    p = sub.add_parser(
        "demo", help="archive the bundled replica sites (papers demo-*) into the embedded S3"
    )
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser(
        "serve",
        help="the reading room: browse, read and search the archive in a browser (read-only)",
        description="A read-only web interface to the archive (docs/reading-room.md): papers "
        "and their calendars, editions page by page, articles with versions and reprints, "
        "search and exports; a JSON API under /api/.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=SERVE_PORT, help="default %(default)s")
    p.add_argument(
        "--token", help="access token every request must carry (default: EPAPER_WEB_TOKEN)"
    )
    p.add_argument(
        "--replay", metavar="URL", help="base URL of `epaper replay` (default: EPAPER_REPLAY_URL)"
    )
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser(
        "wacz",
        help="package archived editions as a WACZ file for ReplayWeb.page",
        description="A WACZ of an edition (or a range, or a month) from its WARCs in the "
        "bucket, validated, whose page list is the archived articles with their titles and "
        "text (docs/wacz.md: how to open it in ReplayWeb.page).",
    )
    p.add_argument("paper", help="paper id, as `epaper ls` lists them")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", help="YYYY-MM-DD: the edition (with --to, the first date)")
    when.add_argument("--month", help="YYYY-MM: every archived edition of that month")
    p.add_argument("--to", help="YYYY-MM-DD: the last date of a range starting at --date")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write it (default: PAPER-DATE.wacz, PAPER-YYYY-MM.wacz or "
        "PAPER-FIRST_LAST.wacz in the current folder)",
    )
    p.add_argument(
        "--to-bucket",
        action="store_true",
        help="also put it in the bucket, as wacz/PAPER/DATE.wacz (or YYYY-MM, FIRST_LAST)",
    )
    p.set_defaults(run=cmd_wacz)

    p = sub.add_parser(
        "replay",
        help="replay every archived capture in pywb, over the bucket (until Ctrl-C)",
        description="pywb over the archive in place (docs/replay.md): WARCs read from the "
        "bucket, CDXJ indexes cached under EPAPER_HOME/replay; every capture of every edition "
        "by original URL and date. pywb: EPAPER_PYWB, else `wayback` on PATH.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=REPLAY_PORT, help="default %(default)s")
    p.set_defaults(run=cmd_replay)

    # The replica's families, from the config: importing the renderers would slow every command.
    from papers.catalogue import FAMILIES

    p = sub.add_parser(
        "replica",
        help="serve the replica sites on 127.0.0.1 until Ctrl-C, with a papers file",
        description="Serve the bundled replica e-paper sites (papers replica-*) on 127.0.0.1 "
        "until Ctrl-C, and write a papers file for them: try archive, backfill, "
        "deployments and the Prefect UI against them (docs/prefect.md).",
    )
    p.add_argument(
        "--family",
        action="append",
        choices=FAMILIES,
        help="only the sites of this CMS family (repeatable; default: all)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=REPLICA_PORT,
        help="port on 127.0.0.1 (default %(default)s, so the papers file stays valid "
        "across restarts; 0: any free port)",
    )
    p.add_argument(
        "--papers-out",
        metavar="FILE",
        help="where to write the papers file (default: EPAPER_HOME/replica-papers.yaml)",
    )
    p.set_defaults(run=cmd_replica)

    from spiders.probe import PROBE_REQUESTS

    p = sub.add_parser(
        "probe",
        help="which CMS family fits a site: crawl one edition with every family",
        description="With URL (one edition page of a paper not in the catalogue): what each "
        "family finds there and a papers.yaml entry for the best fit. With PAPER --date D: "
        "whether a catalogued paper still fits its family, and which fits better (docs/probe.md).",
    )
    p.add_argument("target", metavar="URL|PAPER", help="an edition page's address, or a paper id")
    p.add_argument(
        "--date", help="YYYY-MM-DD: the edition to probe (PAPER), or the date in the URL"
    )
    p.add_argument(
        "--requests",
        type=int,
        default=PROBE_REQUESTS,
        help="requests per family's crawl (default %(default)s)",
    )
    p.add_argument("--papers", help=papers_help)
    p.set_defaults(run=cmd_probe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settle_home()
    try:
        args.run(args)
    except KeyboardInterrupt as exc:
        signame = "SIGTERM" if str(exc) == "SIGTERM" else "SIGINT"
        print(f"epaper: interrupted by {signame}{_log_note(args)}", file=sys.stderr)
        return 143 if signame == "SIGTERM" else 130
    except Exception as exc:  # every failure ends as one line naming its input
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"epaper: error: {message}{_log_note(args)}", file=sys.stderr)
        return 1
    return 0


def _log_note(args) -> str:
    log = getattr(args, "log", None)
    return f" (details: {log})" if log else ""


if __name__ == "__main__":
    sys.exit(main())
