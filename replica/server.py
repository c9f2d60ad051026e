"""Serve replica sites on 127.0.0.1, as the real servers answer.

One threaded HTTP/1.1 server for any number of sites, each under its paper's prefix.
It serves robots.txt (forbidding each site's /private/), answers conditional requests
with 304, refuses Scrapy's default User-Agent with 403 as several e-paper hosts do,
and counts requests, bytes and the most requests it ever had in flight at once.
It carries out the sites' faults on the wire (reset, truncate, timeout, a body without
Content-Length: replica/faults.py), and can answer slowly (`delay`). A test can answer some
paths itself (`answers`: a body sent a byte at a time, under a Content-Encoding of its own).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timezone
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .site import Resource, Site, html_doc

BOT_AGENTS = ("Scrapy/",)

# answer(server, handler, res): writes the whole response to a request for its path, given
# the replica's Resource for it. A client hanging up on it is no error.
Answer = Callable[["ReplicaServer", BaseHTTPRequestHandler, Resource], None]


class _Server(ThreadingHTTPServer):
    # socketserver's listen backlog of 5 drops the SYN of a 6th simultaneous connect, which
    # the client resends only after 1 s; real web servers listen with 511 (nginx) or more.
    request_queue_size = 511


class ReplicaServer:
    """Context manager: `with ReplicaServer(sites) as srv: srv.base_url`."""

    def __init__(
        self,
        sites: list[Site],
        host: str = "127.0.0.1",
        port: int = 0,
        crawl_delay: float | None = None,
        delay: float = 0.0,
        fault_delay: float = 30.0,
        answers: dict[str, Answer] | None = None,
    ):
        self.sites = list(sites)
        self.answers = dict(answers or {})  # path -> the test's own answer to it
        self.answered: Counter[str] = Counter()  # path -> requests `answers` took
        self.crawl_delay = crawl_delay  # robots.txt Crawl-delay, seconds
        self.delay = delay  # seconds before every answer but robots.txt: a slow site
        self.fault_delay = fault_delay  # how long a "timeout" fault keeps the client waiting
        self._stopping = threading.Event()  # ends the waits of delay and timeout faults
        self.requests = 0
        self.bytes_sent = 0
        self.max_in_flight = 0
        self.log: list[dict] = []  # method, path, status, time (of arrival, monotonic), user_agent
        self._in_flight = 0
        self._lock = threading.Lock()
        self._httpd = _Server((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ReplicaServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="replica", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True (at once) when the server is stopping."""
        return self._stopping.wait(seconds)

    def paths(self, status: int | None = None) -> list[str]:
        """Paths requested so far (optionally only those answered `status`)."""
        return [e["path"] for e in self.log if status is None or e["status"] == status]

    # routing ------------------------------------------------------------------
    def robots(self) -> Resource:
        lines = ["User-agent: *"] + [
            f"Disallow: {path}" for s in self.sites for path in s.robots_disallowed()
        ]
        if self.crawl_delay:
            lines.append(f"Crawl-delay: {self.crawl_delay}")
        return Resource("\n".join(lines + [""]).encode(), "text/plain")

    def index(self) -> Resource:
        links = "\n".join(
            f'<li><a href="{s.url_for(s.dates[-1])}">{escape(s.name)}</a></li>'
            for s in self.sites
            if s.dates
        )
        return Resource(html_doc("数字报", f"<ul>\n{links}\n</ul>").encode())

    def resolve(self, path: str, host: str) -> Resource:
        if path == "/robots.txt":
            return self.robots()
        if path.split("?", 1)[0] in ("/", "/index.html"):
            return self.index()
        for site in self.sites:
            if path.startswith(f"/{site.paper}/"):
                res = site.resolve(path, host)
                if res is not None:
                    return res
        return Resource(html_doc("404 Not Found", "<h1>404 Not Found</h1>").encode(), status=404)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # the test output stays quiet
                pass

            def do_HEAD(self):
                self.answer(head=True)

            def do_GET(self):
                self.answer(head=False)

            def answer(self, head: bool) -> None:
                path = urlsplit(self.path).path
                if path in server.answers:
                    with server._lock:
                        server.answered[path] += 1
                    try:
                        res = server.resolve(path, self.headers.get("Host", ""))
                        server.answers[path](server, self, res)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True  # the client gave up on it
                    return
                arrived = time.monotonic()
                with server._lock:
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                try:
                    target = urlsplit(self.path)
                    path = target.path
                    agent = self.headers.get("User-Agent", "")
                    if any(bot in agent for bot in BOT_AGENTS):
                        res = Resource(b"Forbidden", "text/plain", status=403)
                    else:
                        full = path + (f"?{target.query}" if target.query else "")
                        res = server.resolve(full, self.headers.get("Host", ""))
                    if server.delay and path != "/robots.txt":
                        server._stopping.wait(server.delay)
                    status, headers, body = self.conditional(res)
                    # counted before the body goes out: a client that has its answer sees it counted
                    with server._lock:
                        server.requests += 1
                        server.bytes_sent += 0 if head else len(body)
                        server.log.append(
                            {
                                "method": self.command,
                                "path": path,
                                "status": status,
                                "time": arrived,
                                "user_agent": agent,
                                "host": self.headers.get("Host", ""),
                                "fault": res.fault,
                            }
                        )
                    if res.fault == "timeout":
                        server._stopping.wait(server.fault_delay)
                    if res.fault == "reset":
                        self.reset()
                        return
                    self.send_response(status)
                    if status != 304:
                        headers.setdefault("Content-Type", res.content_type)
                    if (
                        res.fault == "unsized"
                    ):  # HTTP/1.0 style: the body ends when the connection does
                        headers["Connection"] = "close"
                        self.close_connection = True
                    else:
                        headers["Content-Length"] = str(len(body))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if head:
                        return
                    if res.fault == "truncate":
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (too large, timed out)
                finally:
                    with server._lock:
                        server._in_flight -= 1

            def reset(self) -> None:
                """Abort the connection: SO_LINGER 0 makes close() send RST."""
                self.close_connection = True
                try:
                    self.wfile.flush()
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                except OSError:
                    pass

            def conditional(self, res: Resource) -> tuple[int, dict[str, str], bytes]:
                headers = dict(res.headers)
                if res.status != 200:
                    return res.status, headers, res.body
                etag = '"' + hashlib.sha1(res.body).hexdigest()[:20] + '"'
                headers["ETag"] = etag
                if res.last_modified:
                    headers["Last-Modified"] = format_datetime(
                        res.last_modified.astimezone(timezone.utc), usegmt=True
                    )
                inm = self.headers.get("If-None-Match")
                ims = self.headers.get("If-Modified-Since")
                if inm is not None:
                    if etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*":
                        return 304, {"ETag": etag}, b""
                elif ims and res.last_modified:
                    try:
                        since = parsedate_to_datetime(ims)
                    except (TypeError, ValueError):
                        since = None
                    if since and res.last_modified.replace(microsecond=0) <= since:
                        return 304, {"ETag": etag, "Last-Modified": headers["Last-Modified"]}, b""
                return 200, headers, res.body

        return Handler


class GzipReplica(ReplicaServer):
    """The replica answering its HTML gzip-compressed, as most e-paper servers do."""

    def resolve(self, path, host):
        res = super().resolve(path, host)
        if res.status == 200 and res.content_type.startswith("text/html"):
            res = dataclasses.replace(
                res,
                body=gzip.compress(res.body, mtime=0),
                headers={**res.headers, "Content-Encoding": "gzip"},
            )
        return res
