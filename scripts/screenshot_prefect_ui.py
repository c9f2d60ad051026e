"""docs/prefect-ui.png: the Prefect UI showing a real edition run and its edition table.

    .venv/bin/python -m scripts.screenshot_prefect_ui [--out docs/prefect-ui.png]

Run from the repository root. It serves the bundled replica sites, starts `prefect server
start` on 127.0.0.1 with a throw-away PREFECT_HOME, archives one day of two papers into a
throw-away embedded S3 server (the second paper reprints wire stories of the first, so its
table carries duplicate marks), then has headless Chromium photograph the second run's page
and its table artifact, stacked into one PNG. Everything it starts, it stops.

Needs Debian's chromium and a CJK font: apt-get install chromium fonts-noto-cjk
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from tests.prefect_server import PROJECT, PrefectServer

CHROMIUM = "/usr/bin/chromium"
WIDTH = 2200  # wide enough for the table's key and duplicate columns


def archive_one_day(papers_dir: Path) -> tuple[str, str]:
    """Archive bcrb then shrb for one demo day; (flow run id, table artifact id) of shrb's run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from epaper.demo import write_papers_file
    from flows.archive import archive_edition
    from replica import DEMO_DATES, ReplicaServer, demo_sites
    from storage.archive import open_archive

    sites, day = demo_sites()[:2], DEMO_DATES[1].isoformat()
    with ReplicaServer(sites) as replica, open_archive():
        papers_file = str(write_papers_file(sites, replica.base_url, papers_dir / "papers.yaml"))
        states = [
            archive_edition(site.paper, day, papers_file, return_state=True) for site in sites
        ]
    with get_client(sync_client=True) as client:
        [table] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[f"edition-{sites[-1].paper}-{day}"])
            )
        )
    return str(states[-1].state_details.flow_run_id), str(table.id)


def screenshot(url: str, out: Path, height: int, profile: Path) -> None:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{height}",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--virtual-time-budget=20000",
            f"--screenshot={out}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT / "docs" / "prefect-ui.png")
    args = parser.parse_args()
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="epaper-screenshot-") as tmp:
        tmp = Path(tmp)
        # Only throw-away state: no S3 or catalog of the caller's environment.
        for name in [
            n for n in os.environ if n.startswith(("EPAPER_S3_", "EPAPER_CATALOG_", "PREFECT_"))
        ]:
            del os.environ[name]
        os.environ.update(EPAPER_HOME=str(tmp / "epaper"), EPAPER_DOWNLOAD_DELAY="0")
        with PrefectServer(tmp / "prefect") as server:
            os.environ.update(
                PREFECT_API_URL=server.url, PREFECT_HOME=str(tmp / "prefect")
            )  # before Prefect loads
            run_id, artifact_id = archive_one_day(tmp)
            ui = server.url.removesuffix("/api")
            shots = [
                (f"{ui}/runs/flow-run/{run_id}", tmp / "run.png", 800),
                (f"{ui}/artifacts/artifact/{artifact_id}", tmp / "artifact.png", 1000),
            ]
            for url, png, height in shots:
                screenshot(url, png, height, tmp / "chromium")
        images = [Image.open(png) for _, png, _ in shots]
        stacked = Image.new("RGB", (WIDTH, sum(image.height for image in images)))
        top = 0
        for image in images:
            stacked.paste(image, (0, top))
            top += image.height
        args.out.parent.mkdir(parents=True, exist_ok=True)
        stacked.save(args.out, optimize=True)
    print(f"wrote {args.out}: flow run {run_id} and its table artifact")


if __name__ == "__main__":
    main()
