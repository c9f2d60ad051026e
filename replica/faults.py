"""Faults a replica site can be told to show, for the fault-injection tests.

    site = build_site(
        "founder-new", "bcrb", [day], faults={"article:0": "reset", "page:2": "503*1"}
    )

A fault is keyed by a target and names a kind, optionally "*N": only the first N
requests of the target fail, later ones are served normally ("503*1": one 503, then the
page). Targets:

    "edition"      the first page of every edition
    "page:N"       page N of every edition (1-based, as printed)
    "pdf:N"        page N's PDF
    "article:N"    the N-th listed news article of every edition (0-based, in print order)
    "/path"        one path of the site

Kinds, as the site answers:

    403 404 410 500 …   that status; 429 and 503 carry Retry-After (option fault_retry_after, "1")
    301                 a 301 to the site root, as sites do for a missing edition
    "reset"             the connection is reset before any answer
    "truncate"          the headers promise the whole body, half of it comes, then the
                        connection closes
    "timeout"           no answer for fault_delay seconds (default 30; the server stopping ends it)
    "redirect_loop"     302 to the same path with ?via=loop, which 302s back: a loop of two
    "huge"              the page padded to fault_size bytes (default 10 MiB), sent without
                        Content-Length
    "malformed"         closing tags stripped, NUL and control bytes, an unterminated comment
                        and tag
    "charset_wrong"     header and meta tag both say iso-8859-1 (Tomcat's default), whatever
                        the bytes are
    "charset_missing"   no charset in the header nor in the meta tag
    "offsite"           every link to the target, on every page, points at another host
                        (localhost for 127.0.0.1 and back), where the same server answers
    "robots"            robots.txt forbids the target
    "xml_bomb"          the body is a billion-laughs XML document (for period.xml)
    "pdf_bomb"          (for pdf:N) a 1 MB PDF whose content stream inflates to fault_inflate
                        bytes (default 10^9)
    "pdf_slow"          (for pdf:N) a 64 KiB PDF whose 64 MiB content stream takes a
                        parser a minute of CPU
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TRANSPORT = ("reset", "truncate", "timeout")
BODY = ("huge", "malformed", "charset_wrong", "charset_missing", "xml_bomb", "pdf_bomb", "pdf_slow")
OTHER = ("redirect_loop", "offsite", "robots")
KINDS = TRANSPORT + BODY + OTHER


@dataclass
class Fault:
    kind: str  # a KINDS entry, or a status code as text ("503")
    left: int | None = None  # how many more requests fail; None: all of them

    @classmethod
    def parse(cls, spec: str | int) -> Fault:
        text = str(spec).strip()
        kind, _, times = text.partition("*")
        if not (kind in KINDS or (kind.isdigit() and 300 <= int(kind) <= 599)):
            raise ValueError(
                f"unknown fault {spec!r}; kinds: an HTTP status or one of {', '.join(KINDS)}"
            )
        if times and not times.isdigit():
            raise ValueError(f"bad fault {spec!r}: '*N' needs a number")
        return cls(kind, int(times) if times else None)

    @property
    def status(self) -> int | None:
        return int(self.kind) if self.kind.isdigit() else None

    def take(self) -> bool:
        """Whether this request fails (and count it)."""
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def offsite_host(host: str) -> str:
    """Another host name for the same server: localhost for 127.0.0.1 and back."""
    name, sep, port = host.rpartition(":") if ":" in host else (host, "", "")
    other = "127.0.0.1" if name == "localhost" else "localhost"
    return f"{other}{sep}{port}"


def malformed(body: bytes) -> bytes:
    """What broken CMS templates and bad transfers leave of a page: every closing tag of
    the block elements gone, NUL and control bytes, a stray '<', and the document ending
    inside an unterminated comment after an unterminated tag."""
    body = re.sub(
        rb"</(div|p|li|ul|table|tr|td|h[1-6]|founder-content|span|body|html)>",
        b"",
        body,
        flags=re.I,
    )
    body = body.replace(b"<body>", b'<body>\x00\x01<<\x08 <div class="x>', 1)
    return body + b'\x00<a href="../x.html\n<!-- unterminated <p>'


def relabel(body: bytes, charset: str | None) -> bytes:
    """The meta tag's charset replaced (None: removed)."""
    new = b"" if charset is None else f"; charset={charset}".encode()
    return re.sub(rb";\s*charset=[A-Za-z0-9_-]+", new, body, count=1, flags=re.I)


def billion_laughs(levels: int = 10) -> bytes:
    """The classic entity-expansion bomb: 10 levels of 10 give 10^9 'lol's if expanded."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<!DOCTYPE root [", '<!ENTITY lol0 "lol">']
    for i in range(1, levels):
        lines.append(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">')
    lines += [
        "]>",
        f"<root><period><period_date>&lol{levels - 1};</period_date></period></root>",
        "",
    ]
    return "\n".join(lines).encode()
