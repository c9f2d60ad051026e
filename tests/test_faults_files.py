"""The README's fault table names every test file that records its rows."""

from pathlib import Path

from tests.faults_report import FILES, ROOT


def test_every_file_recording_fault_rows_is_listed():
    recording = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").glob("test_*.py")
        if p.name != Path(__file__).name and "fault_report.row(" in p.read_text(encoding="utf-8")
    }
    assert recording == set(FILES), "tests/faults_report.py FILES is out of date"
    assert all(Path(ROOT / f).exists() for f in FILES)
