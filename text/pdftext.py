"""Text of an archived page PDF, with CJK paragraphs repaired.

pdfplumber (on pdfminer.six) finds the text lines of a page. A newspaper page
sets text in narrow columns: lines break mid-sentence, and a paragraph runs on
from the foot of one column to the head of the next. What marks a paragraph is
geometry: its first line is indented, its last line stops short of the column's
right edge. So lines are grouped into column blocks, the blocks put in reading
order by recursive XY-cut (headline band above, then columns left to right), and
lines joined into paragraphs with text.cjk's rule (no space inside CJK).

A page PDF comes from the paper's site and may be hostile: a small file whose
streams inflate to gigabytes, or one that keeps the parser busy for minutes. So the
text is extracted in a separate process (`python -m text.pdftext`) under an
address-space and CPU limit and a wall-clock timeout; a PDF over them is killed,
gives no text and says why, and the edition goes on.
"""

import atexit
import io
import logging
import math
import os
import resource
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import pdfplumber
from pdfminer.layout import LTTextContainer, LTTextLineHorizontal
from pdfminer.psexceptions import PSException
from pdfplumber.utils.exceptions import PdfminerException

from text.cjk import clean_line, ends_sentence, is_indented, join_lines

log = logging.getLogger(__name__)

# Column gaps on newspaper pages are one to two character widths, so characters
# belong to one line only when (nearly) adjacent; CJK has no word gaps, so a space
# is inferred only for a visible gap of a third of a character or more. Box
# ordering is ours (XY-cut), so pdfminer's own (boxes_flow) is switched off.
LAPARAMS = {"char_margin": 1.0, "word_margin": 0.3, "line_margin": 0.5, "boxes_flow": None}
# In units of the type size: an indent of half a character opens a paragraph; a
# line ending more than one character short of the column edge closes one (up to
# four if it ends mid-sentence); lines further apart than one line height belong
# to different blocks.
INDENT = 0.5
SHORT = 1.0
NEAR = 4.0
LINE_GAP = 1.0

# Bounds of one PDF's extraction. A newspaper page takes well under a second and
# some tens of MiB; the extracting process itself takes about 50 MiB of address space.
TIMEOUT_S = 30.0  # wall clock, and CPU time; EPAPER_PDF_TEXT_TIMEOUT
MEMORY_MIB = 512  # address space of the extracting process; EPAPER_PDF_TEXT_MEMORY_MIB
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class _Line:
    x0: float
    y0: float
    x1: float
    y1: float
    size: float
    raw: str


class _Block:
    """Lines of one column block, top to bottom, with the block's x extent."""

    def __init__(self, first: _Line):
        self.lines = [first]
        self.x0, self.x1 = first.x0, first.x1

    def add(self, ln: _Line) -> None:
        self.lines.append(ln)
        self.x0, self.x1 = min(self.x0, ln.x0), max(self.x1, ln.x1)

    @property
    def bbox(self):
        return (self.x0, self.lines[-1].y0, self.x1, self.lines[0].y1)

    @property
    def size(self) -> float:
        return median(ln.size for ln in self.lines)


@dataclass(frozen=True)
class PageText:
    text: str  # one paragraph a line, pages in order
    skipped: str | None = None  # why there is no text ("text extraction: over 30 s"), else None


def page_text(pdf_bytes: bytes) -> str:
    """All text of a PDF, one paragraph a line, pages in order. A file that is not
    a readable PDF, or is over the bounds, gives "" (logged): a bad page must not
    fail the edition."""
    return extract(pdf_bytes).text


def extract(pdf_bytes: bytes) -> PageText:
    """page_text with the reason when there is none, extracted within the bounds
    (EPAPER_PDF_TEXT_TIMEOUT seconds, EPAPER_PDF_TEXT_MEMORY_MIB MiB)."""
    timeout = _setting("EPAPER_PDF_TEXT_TIMEOUT", TIMEOUT_S)
    memory_mib = int(_setting("EPAPER_PDF_TEXT_MEMORY_MIB", MEMORY_MIB))
    worker = _POOL.take(memory_mib)
    try:
        result = worker.run(pdf_bytes, timeout)
    finally:
        _POOL.give_back(worker)
    if result.skipped:
        log.warning("page PDF (%d bytes) gives no text: %s", len(pdf_bytes), result.skipped)
    return result


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise ValueError(f"{name}={raw!r}: a positive number is needed (default {default:g})")
    return value


# Requests to the extracting process: the CPU seconds it may spend and the PDF's
# length, then the PDF. Answers: a status byte and the payload's length, then the
# payload (the text, or why there is none), UTF-8.
_REQUEST = struct.Struct(">dQ")
_ANSWER = struct.Struct(">cQ")
_TEXT, _UNREADABLE, _OUT_OF_MEMORY = b"T", b"U", b"M"
_READY = b"ready\n"  # the process's first words, once pdfplumber is imported
START_S = 60.0


class _Extractor:
    """One extracting process, reused PDF after PDF (it imports pdfplumber once);
    replaced after any PDF it did not come back from cleanly."""

    def __init__(self, memory_mib: int):
        self.memory_mib = memory_mib
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "text.pdftext", str(memory_mib)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.healthy = True
        try:  # its start (imports) is not any PDF's time
            if self._read(len(_READY), time.monotonic() + START_S) != _READY:
                raise EOFError
        except (TimeoutError, EOFError):
            self.stop()
            raise RuntimeError(
                f"the PDF text extractor ({sys.executable} -m text.pdftext) did not start"
            )

    def run(self, pdf_bytes: bytes, timeout: float) -> PageText:
        deadline = time.monotonic() + timeout
        try:
            self.proc.stdin.write(_REQUEST.pack(timeout + 1, len(pdf_bytes)) + pdf_bytes)
            self.proc.stdin.flush()
            status, length = _ANSWER.unpack(self._read(_ANSWER.size, deadline))
            payload = self._read(length, deadline).decode("utf-8")
        except TimeoutError:
            self.stop()
            return PageText("", f"text extraction: over {timeout:g} s")
        except (EOFError, BrokenPipeError):
            return PageText("", f"text extraction: {self._death(timeout)}")
        if status == _TEXT:
            return PageText(payload)
        if status == _OUT_OF_MEMORY:
            self.stop()  # a MemoryError may leave the process in any state
            return PageText("", f"text extraction: over {self.memory_mib} MiB of memory")
        return PageText("", f"unreadable PDF: {payload}")

    def _read(self, size: int, deadline: float) -> bytes:
        chunks, got = [], 0
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while got < size:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError
                chunk = os.read(fd, min(size - got, 1 << 20))
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                got += len(chunk)
        return b"".join(chunks)

    def _death(self, timeout: float) -> str:
        self.healthy = False
        code = self.proc.wait()
        if code == -signal.SIGXCPU:
            return f"over {timeout:g} s of CPU"
        if code < 0:
            return f"the extracting process died of {signal.Signals(-code).name}"
        return f"the extracting process exited with status {code}"

    def stop(self) -> None:
        self.healthy = False
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            pipe.close()


class _Pool:
    """Idle extracting processes, one per PDF extracted at the same time."""

    def __init__(self):
        self.idle: list[_Extractor] = []
        self.lock = threading.Lock()

    def take(self, memory_mib: int) -> _Extractor:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.memory_mib == memory_mib and worker.proc.poll() is None:
                    return worker
                worker.stop()
        return _Extractor(memory_mib)

    def give_back(self, worker: _Extractor) -> None:
        if not worker.healthy:
            worker.stop()
            return
        with self.lock:
            self.idle.append(worker)

    def stop_all(self) -> None:
        with self.lock:
            while self.idle:
                self.idle.pop().stop()


_POOL = _Pool()
atexit.register(_POOL.stop_all)


def _extract_here(pdf_bytes: bytes) -> list[str]:
    paras: list[str] = []
    with pdfplumber.open(io.BytesIO(pdf_bytes), laparams=LAPARAMS) as pdf:
        for page in pdf.pages:
            paras.extend(_paragraphs(_xy_cut(_blocks(_lines(page.layout)))))
            page.flush_cache()  # keep memory flat on 100-page editions
    return paras


def _serve(memory_mib: int) -> None:
    """The extracting process: PDF after PDF from stdin, each answered on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which ends us
    limit = memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a PDF over its CPU time leaves no core file
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    answers.write(_READY)
    answers.flush()
    while head := requests.read(_REQUEST.size):
        cpu_s, length = _REQUEST.unpack(head)
        pdf_bytes = requests.read(length)
        used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = math.ceil(used + cpu_s)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        try:
            status, payload = _TEXT, "".join(p + "\n" for p in _extract_here(pdf_bytes))
        except Exception as exc:  # a malformed PDF trips pdfminer anywhere  # noqa: BLE001
            status, payload = (
                (_OUT_OF_MEMORY, "") if _out_of_memory(exc) else (_UNREADABLE, _describe(exc))
            )
        data = payload.encode("utf-8", "surrogatepass")
        answers.write(_ANSWER.pack(status, len(data)) + data)
        answers.flush()


def _out_of_memory(exc: BaseException | None) -> bool:
    # pdfplumber wraps what pdfminer raises (a MemoryError inflating a stream too) in
    # PdfminerException
    while exc is not None:
        if isinstance(exc, MemoryError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _describe(exc: Exception) -> str:
    if isinstance(exc, (PdfminerException, PSException)):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _exit_with(parent: int) -> None:
    # A parent killed mid-PDF closes no pipe we would notice before the PDF is done.
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _lines(layout) -> list[_Line]:
    out = []
    for box in layout:
        if not isinstance(box, LTTextContainer):
            continue
        for ln in box if not isinstance(box, LTTextLineHorizontal) else [box]:
            if isinstance(ln, LTTextLineHorizontal) and clean_line(ln.get_text()):
                out.append(_Line(ln.x0, ln.y0, ln.x1, ln.y1, ln.height, ln.get_text()))
    return out


def _blocks(lines: list[_Line]) -> list[_Block]:
    """Stack lines, top to bottom, onto the block just above them in the same
    column (overlapping the block's width, same type size, no more than a line
    apart). The block's width, not its last line's: a paragraph's last line
    may be one character that the next, indented line does not overlap."""
    blocks: list[_Block] = []
    for ln in sorted(lines, key=lambda ln: (-ln.y1, ln.x0)):
        for b in blocks:
            last = b.lines[-1]
            overlap = min(b.x1, ln.x1) - max(b.x0, ln.x0)
            if (
                overlap > 0.5 * min(b.x1 - b.x0, ln.x1 - ln.x0)
                and abs(last.size - ln.size) <= 0.15 * ln.size
                and 0 <= last.y0 - ln.y1 <= LINE_GAP * ln.size
            ):
                b.add(ln)
                break
        else:
            blocks.append(_Block(ln))
    return blocks


def _xy_cut(blocks: list[_Block]) -> list[_Block]:
    """Reading order: split at a horizontal gap crossing every block (top part
    first), else at a vertical one (left part first), recursively."""
    if len(blocks) <= 1:
        return blocks
    for parts in (_cut(blocks, axis=1), _cut(blocks, axis=0)):
        if len(parts) > 1:
            return [b for part in parts for b in _xy_cut(part)]
    return sorted(blocks, key=lambda b: (-b.bbox[3], b.bbox[0]))


def _cut(blocks: list[_Block], axis: int) -> list[list[_Block]]:
    # axis 1: bands from the top down; axis 0: columns from the left.
    if axis == 1:
        spans = sorted(((-b.bbox[3], -b.bbox[1], b) for b in blocks), key=lambda t: t[:2])
    else:
        spans = sorted(((b.bbox[0], b.bbox[2], b) for b in blocks), key=lambda t: t[:2])
    parts: list[list[_Block]] = []
    end = None
    for start, stop, b in spans:
        if end is None or start >= end:
            parts.append([b])
            end = stop
        else:
            parts[-1].append(b)
            end = max(end, stop)
    return parts


def _paragraphs(blocks: list[_Block]) -> list[str]:
    paras: list[list[str]] = []
    open_para = False  # the last line seen may run on into the next
    prev_size = 0.0
    for block in blocks:
        left = block.x0
        size = block.size
        right = _column_edge(block.lines, size)
        # Characters a full line holds: a line stopping short only because its
        # characters are narrower (digits, Latin) holds at least as many.
        full_len = min(
            (
                len(clean_line(ln.raw))
                for ln in block.lines
                if right is not None and abs(right - ln.x1) <= SHORT * size
            ),
            default=0,
        )
        for i, ln in enumerate(block.lines):
            text = clean_line(ln.raw)
            indented = ln.x0 - left >= INDENT * size or is_indented(ln.raw)
            # A block's first line continues the previous block's paragraph only
            # if that was left open and the type size matches (body text).
            joins = open_para and not indented and (i > 0 or abs(size - prev_size) <= 0.1 * size)
            if joins and paras:
                paras[-1].append(text)
            else:
                paras.append([text])
            # A line runs on if it reaches the column edge, or stops a little short
            # in mid-sentence for narrow characters; a headline set in body type
            # stops short with fewer characters, or overruns the column.
            reach = None if right is None else right - ln.x1
            open_para = reach is not None and (
                -SHORT * size <= reach <= SHORT * size
                or 0 <= reach <= NEAR * size
                and len(text) >= full_len
                and not ends_sentence(text)
            )
        prev_size = size
    return [join_lines(p) for p in paras]


def _column_edge(lines: list[_Line], size: float) -> float | None:
    """The right edge of a column: the furthest x1 that two or more lines reach.
    None for a block of headline or credit lines, where no two lines agree."""
    ends = sorted((ln.x1 for ln in lines), reverse=True)
    for i, edge in enumerate(ends[:-1]):
        if edge - ends[i + 1] <= 0.5 * size:
            return edge
    return None


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
