"""The fetch bench runs end to end on a tiny edition and prints its table.

No timing is asserted: benchmarks measure, tests do not (docs/benchmarks.md).
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_fetch_bench_prints_its_table(archive_env, tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "bench.fetch_bench",
        "--quick",
        "--families",
        "founder-new",
        "--pages",
        "2",
        "--repeat",
        "1",
        "--workdir",
        str(tmp_path / "bench"),
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ.copy()
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "fetch bench: python -m bench.fetch_bench --quick" in out
    assert "| edition (family)" in out and "| founder-new" in out and "| all editions" in out
    assert "ours / bare =" in out and "every contender made the same requests" in out
