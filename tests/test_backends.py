"""The storage backends behind their protocols (storage/protocols.py): both catalog backends
(SQLite and the real PostgreSQL on 127.0.0.1:5432, a scratch database per test) and the S3
Archive (the session's real SeaweedFS)."""

from __future__ import annotations

import inspect
import multiprocessing as mp
import os
import queue
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from replica.labelled_dedupe import stories
from storage.archive import Archive, open_archive
from storage.catalog import Catalog, CatalogError, PostgresCatalog, SqliteCatalog
from storage.protocols import ArticleCatalog, ObjectStore

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = {"sqlite": SqliteCatalog, "postgres": PostgresCatalog}


@pytest.fixture(params=list(BACKENDS))
def catalog_url(request, tmp_path):
    """A new, empty catalog database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.sqlite'}"
        return
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"epaper_backends_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def _backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def _parameters(signature: inspect.Signature) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def _same_signatures(protocol: type, backend: type) -> list[str]:
    """The protocol's methods whose parameters (names, kinds, defaults) the backend differs in."""
    members = [
        name
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    ]
    assert members
    wrong = []
    for name in members:
        wanted, found = (inspect.signature(getattr(cls, name)) for cls in (protocol, backend))
        if _parameters(wanted) != _parameters(found):
            wrong.append(f"{backend.__name__}.{name}{found}")
    return wrong


def test_catalog_url_chooses_a_backend_that_satisfies_the_protocol(catalog_url):
    with Catalog(catalog_url) as catalog:
        assert type(catalog) is BACKENDS[_backend(catalog_url)]
        assert isinstance(catalog, ArticleCatalog) and isinstance(catalog, Catalog)
    assert _same_signatures(ArticleCatalog, type(catalog)) == []


def test_archive_satisfies_the_object_store_protocol(archive_env):
    with open_archive() as archive:
        assert isinstance(archive, ObjectStore)
        result = archive.put("backends/a.txt", b"one", "text/plain")
        assert archive.exists("backends/a.txt") and archive.get("backends/a.txt") == b"one"
        assert list(archive.list("backends/")) == ["backends/a.txt"]
        assert [v["version_id"] for v in archive.versions("backends/a.txt")] == [result.version_id]
    assert _same_signatures(ObjectStore, Archive) == []


def test_assign_is_idempotent(catalog_url):
    wire = "\n".join(stories()["xinhua-ai-study"])
    reprint = "新华社北京4月26日电\n" + wire.replace("，", ",")
    with Catalog(catalog_url) as catalog:
        first = catalog.assign("a/1", "bcrb", "2025-04-27", wire)
        second = catalog.assign("a/2", "jlrb", "2025-04-27", reprint)
        assert first == {"cluster": "a/1", "canonical": "a/1", "similarity": 1.0, "exact": False}
        assert second["cluster"] == "a/1" and not second["exact"]
        assert catalog.assign("a/2", "jlrb", "2025-04-27", reprint) == second
        assert catalog.assign("a/1", "bcrb", "2025-04-27", wire) == first
        assert [m["key"] for m in catalog.cluster_of("a/2")] == ["a/1", "a/2"]
    with Catalog(catalog_url) as catalog:  # the record is in the database, not the object
        assert catalog.assign("a/2", "jlrb", "2025-04-27", reprint) == second
        assert catalog.cluster_of("a/none") == []


def _second_holder(url: str, events) -> None:
    with Catalog(url) as catalog:
        events.put(("trying", os.getpid()))
        with catalog.edition_lock("bcrb", "2025-04-27"):
            events.put(("got", os.getpid()))


def _waits_for_the_lock(url: str, catalog: Catalog, pid: int) -> bool:
    """Whether process `pid` is blocked on the edition lock, as the kernel or the database
    sees it (not guessed from time passing)."""
    if _backend(url) == "postgres":
        with catalog.engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks "
                        "WHERE locktype = 'advisory' AND NOT granted AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                ).scalar()
            )
    # the lock file beside the SQLite database; /proc/locks marks a blocked flock with "->"
    inode = os.stat(f"{catalog.engine.url.database}.publish.lock").st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and fields[fields.index("->") + 1] == "FLOCK":
            waiter_pid, device = fields[fields.index("->") + 4 : fields.index("->") + 6]
            if int(waiter_pid) == pid and int(device.rsplit(":", 1)[1]) == inode:
                return True
    return False


def test_edition_lock_excludes_a_second_holder(catalog_url):
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    with Catalog(catalog_url) as catalog:
        with catalog.edition_lock("bcrb", "2025-04-27"):
            holder = ctx.Process(target=_second_holder, args=(catalog_url, events))
            holder.start()
            try:
                assert events.get(timeout=120) == ("trying", holder.pid)
                deadline = time.monotonic() + 120  # a bound for a stuck test, not a measurement
                while not _waits_for_the_lock(catalog_url, catalog, holder.pid):
                    assert time.monotonic() < deadline, "the second holder never waited"
                    with pytest.raises(queue.Empty):  # nor did it get the lock we hold
                        events.get(timeout=0.05)
                assert events.empty()
            except BaseException:
                holder.kill()
                raise
        assert events.get(timeout=120) == ("got", holder.pid)  # ours released: now it has it
        holder.join(timeout=120)
        assert holder.exitcode == 0


@pytest.mark.parametrize(
    "url, named",
    [
        ("mysql://epaper:s3cret@127.0.0.1/catalog", "mysql://epaper:***@127.0.0.1/catalog"),
        ("sqlite://", "sqlite:///<file>"),
        ("sqlite:///:memory:", "sqlite:///<file>"),
        ("not a url s3cret", "the catalog URL"),
    ],
)
def test_a_catalog_url_no_backend_takes_fails_naming_it(url, named):
    with pytest.raises(CatalogError) as err:
        Catalog(url)
    assert named in str(err.value) and "s3cret" not in str(err.value)


def test_a_backend_refuses_the_other_backends_url(tmp_path):
    with pytest.raises(CatalogError, match="SqliteCatalog is for sqlite URLs"):
        SqliteCatalog("postgresql://epaper:s3cret@127.0.0.1:5432/catalog")
    with pytest.raises(CatalogError, match="PostgresCatalog is for postgresql URLs"):
        PostgresCatalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
