"""The reading room: a read-only FastAPI app over the archive and the catalog.

Server-rendered pages (Jinja2, autoescaped: archived text is hostile input and is never
rendered as HTML) and a JSON API under /api/ for the same data. Every route is a GET; objects
of the bucket are streamed by the server, so S3 credentials never reach the browser. A strict
Content-Security-Policy (scripts only from /static) backs the escaping up.

The search, reprint evidence, exports and replay come from dataset/; a part not installed
yet makes its page say so instead of failing.
"""

from __future__ import annotations

import hmac
import os
import tempfile
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from papers.catalogue import load_papers
from storage.archive import ObjectNotFound
from web import reading
from web.chart import hits_chart

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; object-src 'self'; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'self'"
)
TOKEN_COOKIE = "epaper_token"
COPIES_PAGE = 20  # reprints shown (read, aligned) per cluster page: wire stories run to hundreds
EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


def _dataset(name: str):
    """A dataset/ module another part builds, or None while it is not there."""
    try:
        if name == "search":
            from dataset import search as module
        elif name == "reprints":
            from dataset import reprints as module
        elif name == "export":
            from dataset import export as module
        else:
            from dataset import replay as module
    except ImportError:
        return None
    return module


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["query"] = lambda params: urlencode(
        {k: v for k, v in params.items() if v not in (None, "")}
    )
    return Jinja2Templates(env=env)


def create_app(
    papers_file: str | None = None,
    token: str | None = None,
    archive=None,
    catalog=None,
    replay_base: str | None = None,
) -> FastAPI:
    """The app. Without `archive`/`catalog` it opens the environment's (open_archive(): the
    embedded server or EPAPER_S3_ENDPOINT; Catalog(): EPAPER_CATALOG_URL or SQLite) for as
    long as it runs. `token`: when set, every request must carry it (EPAPER_WEB_TOKEN)."""
    token = token or os.environ.get("EPAPER_WEB_TOKEN") or None
    replay_base = replay_base or os.environ.get("EPAPER_REPLAY_URL") or None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from contextlib import ExitStack

        from storage.archive import open_archive
        from storage.catalog import Catalog

        with ExitStack() as stack:
            state = app.state
            state.archive = archive or stack.enter_context(open_archive())
            state.catalog = catalog or stack.enter_context(Catalog())
            state.search = None
            if (search := _dataset("search")) is not None:
                state.search = stack.enter_context(search.SearchIndex())
            yield

    app = FastAPI(
        title="epaper reading room 阅览室",
        description="Read-only JSON API over the archived editions (the same data as the pages).",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN: /api/docs is ours, offline
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.papers = load_papers(papers_file)
    templates = _templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token:
            given = request.query_params.get("token")
            if given is not None and hmac.compare_digest(given, token):
                # Once: the token moves to a cookie, out of the address bar and the history.
                rest = {k: v for k, v in request.query_params.items() if k != "token"}
                target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                response = RedirectResponse(target, status_code=303)
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                return _secure(response)
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            cookie = request.cookies.get(TOKEN_COOKIE, "")
            if not any(hmac.compare_digest(v, token) for v in (bearer, cookie) if v):
                return _secure(
                    HTMLResponse(
                        "<!doctype html><title>401</title><p>需要访问令牌 An access token is "
                        "needed: open this address with ?token=…</p>",
                        status_code=401,
                    )
                )
        return _secure(await call_next(request))

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.exception_handler(reading.NotFound)
    async def not_found(request: Request, exc: reading.NotFound):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=404)
        return page(request, "error.html", 404, message=str(exc))

    @app.exception_handler(ValueError)
    async def bad_input(request: Request, exc: ValueError):
        message = str(exc).splitlines()[0] if str(exc) else "bad request"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=400)
        return page(request, "error.html", 400, message=message)

    def state(request: Request):
        return request.app.state

    # -- the data, once for both the pages and the API ---------------------------------

    def search_result(request: Request, params: dict) -> dict:
        index = state(request).search
        if index is None or not params.get("q"):
            return {"available": index is not None, "params": params, "result": None}
        filters = _filters(params)
        limit = 20
        result = index.search(params["q"], **filters, limit=limit, offset=(params["p"] - 1) * limit)
        return {
            "available": True,
            "params": params,
            "result": result,
            "chart": hits_chart(result.get("series") or []),
            "pages": -(-result["total"] // limit),
        }

    def reprint_data(request: Request, key: str, offset: int, limit: int) -> dict:
        archive = reading.ReadOnce(state(request).archive, "get")
        catalog = reading.ReadOnce(state(request).catalog, "cluster_of")
        timeline = reading.cluster(archive, catalog, key, offset, limit)
        reprints = _dataset("reprints")
        evidence = (
            reprints.reprint_evidence(archive, catalog, key, offset, limit)
            if reprints and timeline["total"] > 1
            else None
        )
        return {**timeline, "aligned": reprints is not None, "evidence": evidence}

    def widest(request: Request, date_from: str | None, date_to: str | None) -> dict:
        reprints = _dataset("reprints")
        if reprints is None:
            return {"available": False, "clusters": []}
        clusters = reprints.widest_clusters(
            state(request).catalog,
            date_from=date_from or None,
            date_to=date_to or None,
            archive=state(request).archive,  # for the titles, which the catalog does not hold
        )
        return {"available": True, "clusters": clusters}

    # -- pages -----------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def papers_page(request: Request):
        overview = reading.papers_overview(state(request).archive, state(request).papers)
        return page(request, "papers.html", **overview)

    @app.get("/paper/{paper}", response_class=HTMLResponse, include_in_schema=False)
    def paper_page(request: Request, paper: str):
        data = reading.paper_calendar(state(request).archive, paper, state(request).papers)
        return page(request, "paper.html", paper=data)

    @app.get("/edition/{paper}/{day}", response_class=HTMLResponse, include_in_schema=False)
    def edition_page(
        request: Request, paper: str, day: str, page_no: int | None = Query(None, alias="page")
    ):
        data = reading.edition(state(request).archive, paper, day, page_no)
        info = reading.paper_info(paper, state(request).papers.get(paper))
        return page(request, "edition.html", edition=data, shown=data["shown"], paper=info)

    @app.get("/article/{key:path}", response_class=HTMLResponse, include_in_schema=False)
    def article_page(
        request: Request,
        key: str,
        version: str | None = None,
        a: str | None = None,
        b: str | None = None,
    ):
        archive = state(request).archive
        data = reading.article(archive, key, version)
        changes = reading.diff(archive, key, a, b) if a and b else None
        info = reading.paper_info(
            data["article"]["paper"], state(request).papers.get(data["article"]["paper"])
        )
        try:  # the timeline's first copies; the aligned differences are the cluster page's
            cluster = reading.cluster(archive, state(request).catalog, key, 0, COPIES_PAGE)
        except reading.NotFound:
            cluster = None
        return page(
            request,
            "article.html",
            item=data,
            paper=info,
            diff=changes,
            cluster=cluster,
            replay=_replay_link(replay_base, data),
        )

    @app.get("/cluster/{key:path}", response_class=HTMLResponse, include_in_schema=False)
    def cluster_page(
        request: Request,
        key: str,
        offset: int = Query(0, ge=0),
        limit: int = Query(COPIES_PAGE, ge=1, le=500),
    ):
        return page(request, "cluster.html", cluster=reprint_data(request, key, offset, limit))

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request):
        params = _search_params(request)
        return page(
            request,
            "search.html",
            **search_result(request, params),
            export_ready=_dataset("export") is not None,
            formats=list(EXPORT_TYPES),
            papers=reading.archived_papers(state(request).archive),
        )

    @app.get("/reprints", response_class=HTMLResponse, include_in_schema=False)
    def reprints_page(request: Request, date_from: str = "", date_to: str = ""):
        return page(
            request,
            "reprints.html",
            **widest(request, date_from, date_to),
            date_from=date_from,
            date_to=date_to,
        )

    @app.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request):
        return page(request, "api.html", spec=request.app.openapi())

    @app.get("/file/{key:path}", include_in_schema=False)
    def file(request: Request, key: str, version: str | None = None):
        kind = reading.file_type(key)
        try:
            data = state(request).archive.get(key, version_id=version)
        except ObjectNotFound:
            raise reading.NotFound(f"{key} is not in the archive") from None
        headers = {}
        if not kind.startswith(("image/", "application/pdf")):
            headers["Content-Disposition"] = f'attachment; filename="{key.rsplit("/", 1)[-1]}"'
        return Response(data, media_type=kind, headers=headers)

    # -- the JSON API ----------------------------------------------------------------------

    @app.get("/api/papers", tags=["papers"], summary="Every archived paper with its calendar")
    def api_papers(request: Request):
        return reading.papers_overview(state(request).archive, state(request).papers)

    @app.get("/api/papers/{paper}/calendar", tags=["papers"], summary="One paper's coverage")
    def api_calendar(request: Request, paper: str):
        return reading.paper_calendar(state(request).archive, paper, state(request).papers)

    @app.get("/api/editions/{paper}/{day}", tags=["editions"], summary="An edition's pages")
    def api_edition(request: Request, paper: str, day: str, page: int | None = None):
        return reading.edition(state(request).archive, paper, day, page)

    @app.get("/api/articles/{key:path}", tags=["articles"], summary="An article (a version)")
    def api_article(request: Request, key: str, version: str | None = None):
        return reading.article(state(request).archive, key, version)

    @app.get("/api/versions/{key:path}", tags=["articles"], summary="An article's versions")
    def api_versions(request: Request, key: str):
        return reading.versions(state(request).archive, key)

    @app.get("/api/diff/{key:path}", tags=["articles"], summary="Diff of two versions")
    def api_diff(request: Request, key: str, a: str, b: str):
        return reading.diff(state(request).archive, key, a, b)

    @app.get("/api/cluster/{key:path}", tags=["reprints"], summary="An article's reprints")
    def api_cluster(
        request: Request,
        key: str,
        offset: int = Query(0, ge=0, description="first copy shown (date order)"),
        limit: int = Query(COPIES_PAGE, ge=1, le=500, description="copies shown"),
    ):
        return reprint_data(request, key, offset, limit)

    @app.get("/api/reprints", tags=["reprints"], summary="The widest reprint clusters")
    def api_reprints(request: Request, date_from: str = "", date_to: str = ""):
        return widest(request, date_from, date_to)

    @app.get("/api/search", tags=["search"], summary="Full-text search with facets")
    def api_search(
        request: Request,
        q: str = "",
        paper: str = "",
        region: str = "",
        date_from: str = "",
        date_to: str = "",
        page: str = "",
        wire: str = "",
        p: int = 1,
    ):
        found = search_result(request, _search_params(request))
        if not found["available"]:
            return JSONResponse({"detail": "search is not available yet"}, status_code=503)
        return found["result"] or {"query": q, "total": 0, "hits": [], "facets": {}, "series": []}

    @app.get("/api/export", tags=["export"], summary="Articles of a search or of editions")
    def api_export(
        request: Request,
        format: str = "csv",
        q: str = "",
        paper: str = "",
        region: str = "",
        date_from: str = "",
        date_to: str = "",
        page: str = "",
        wire: str = "",
    ):
        export = _dataset("export")
        if export is None:
            return JSONResponse({"detail": "export is not available yet"}, status_code=503)
        if format not in EXPORT_TYPES:
            raise ValueError(f"export format {format!r}: one of {', '.join(EXPORT_TYPES)}")
        params = _search_params(request)
        archive, catalog = state(request).archive, state(request).catalog
        if params["q"]:
            index = state(request).search
            if index is None:
                return JSONResponse({"detail": "search is not available yet"}, status_code=503)
            rows = export.rows_for_keys(
                archive, catalog, index.keys(params["q"], **_filters(params))
            )
        else:
            rows = export.edition_rows(
                archive, catalog, paper or None, date_from or None, date_to or None
            )
        # Parquet is written whole; a temporary file keeps a large export out of memory.
        out = tempfile.NamedTemporaryFile(suffix=f".{format}", delete=False)
        with out:
            export.write_rows(rows, format, out)
        name = f"epaper-{params['q'] and 'search' or paper or 'editions'}.{format}"
        return FileResponse(
            out.name,
            media_type=EXPORT_TYPES[format],
            filename=name,
            background=BackgroundTask(_remove, out.name),
        )

    return app


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _search_params(request: Request) -> dict:
    q = request.query_params
    try:
        p = max(1, int(q.get("p") or 1))
    except ValueError:
        p = 1
    names = ("q", "paper", "region", "date_from", "date_to", "page", "wire")
    return {**{name: (q.get(name) or "").strip() for name in names}, "p": p}


def _filters(params: dict) -> dict:
    wire = {"wire": True, "local": False}.get(params["wire"])
    return {
        "paper": params["paper"] or None,
        "region": params["region"] or None,
        "date_from": params["date_from"] or None,
        "date_to": params["date_to"] or None,
        "page": params["page"] or None,
        "wire": wire,
    }


def _replay_link(base: str | None, item: dict) -> str | None:
    """The replay of the article's capture, when a replay server is known and the WARC part
    that builds its URLs is there."""
    replay = _dataset("replay")
    url, captured = item["provenance"]["url"], item["provenance"]["captured"]
    if not (base and replay and url and captured):
        return None
    return replay.replay_url(base, url, captured)
