"""The S3 archive: a versioned bucket where a write happens only when content changed.

    with open_archive() as archive:
        result = archive.put(keys.article(...), data, "application/json")

Configuration comes from the environment (architecture.md, "Environment"). Every object
carries the sha256 of its content in user metadata, so "did it change?" costs one HEAD.
Transient failures (connection errors, 5xx) are retried with exponential backoff, then
reported in one line; credentials never appear in messages, logs or reprs. A connection
error is first checked with one quick HEAD of the bucket: if that fails too, the server is
down and every later call of this Archive fails at once (a publish of 1,000 objects must
not retry each of them on its own). An S3 server whose disk is full says so.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import urllib3
from minio import Minio
from minio.datatypes import Object
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.versioningconfig import ENABLED, VersioningConfig

from papers.home import epaper_home
from storage.keys import check_key
from storage.protocols import PutResult
from storage.s3server import EmbeddedS3, EmbeddedS3Error

log = logging.getLogger(__name__)

DEFAULT_BUCKET = "epaper-archive"
DEFAULT_TRIES = 4
SHA256_META = "sha256"  # user metadata: x-amz-meta-sha256
_NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "NoSuchObject"}
_AUTH_FAILED = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
}
_TRANSIENT = (urllib3.exceptions.HTTPError, ServerError, InvalidResponseError, ConnectionError)
# No answer at all (refused, reset, timed out), as opposed to an answer with an error status.
_NO_ANSWER = (urllib3.exceptions.HTTPError, ConnectionError)
# MinIO names a full disk; SeaweedFS answers 500 InternalError, so for a server whose data
# folder is on this machine (the embedded one) a 5xx is checked against its free space.
_FULL_CODE = "XMinioStorageFull"


def _nearly_full(folder: Path) -> tuple[bool, int]:
    """(too little space to write, bytes free) for the disk of `folder`: below 1% (what
    SeaweedFS keeps free by default) or 1 MiB."""
    usage = shutil.disk_usage(folder)
    return usage.free < max(1 << 20, usage.total // 100), usage.free


PROBE_TIMEOUT = urllib3.Timeout(connect=2, read=5)

T = TypeVar("T")


class ArchiveError(RuntimeError):
    """The archive cannot do what was asked; the message says why, in one line."""


class ArchiveUnavailable(ArchiveError):
    """The S3 server could not be reached (after retries)."""


class ArchiveFull(ArchiveError):
    """The S3 server's storage is full: it refuses new writes."""


class ArchiveAuthError(ArchiveError):
    """The S3 server rejected our credentials."""


class ObjectNotFound(ArchiveError, LookupError):
    """No such key (or no such version of it)."""


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Archive:
    """One bucket on one S3 server, an ObjectStore. Prefer open_archive(), which reads the
    environment."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str = DEFAULT_BUCKET,
        secure: bool = False,
        tries: int = DEFAULT_TRIES,
        backoff: float = 0.5,
        data_dir: Path | None = None,
    ) -> None:
        """`data_dir`: the server's data folder when it runs on this machine (the embedded
        one), so that its errors can be told apart from a full disk."""
        if "://" in endpoint or "/" in endpoint:
            raise ValueError(f"S3 endpoint must be host:port, got {endpoint!r}")
        self.endpoint = endpoint
        self.access_key = access_key
        self.bucket = bucket
        self.tries = max(1, tries)
        self.backoff = backoff
        self.data_dir = data_dir
        # Retries are ours (urllib3's are off) so that the final error is one clear line.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=120), retries=False, maxsize=10
        )
        self._client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, http_client=http
        )
        # The down check: one quick try, on a pool of its own (the main one may be all busy).
        probe_http = urllib3.PoolManager(timeout=PROBE_TIMEOUT, retries=False, maxsize=1)
        self._probe_client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            http_client=probe_http,
        )
        self._down: str | None = None  # why the server is known down: every call fails with it
        self._down_lock = threading.Lock()
        self._ensure_versioned_bucket()

    def __repr__(self) -> str:
        return f"Archive(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    # -- writing -----------------------------------------------------------------------

    def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> PutResult:
        """Write `data` as a new version of `key`, unless the latest version has it already."""
        check_key(key)
        digest = hashlib.sha256(data).hexdigest()
        return self._put_if_changed(
            key,
            digest,
            lambda meta: self._client.put_object(
                self.bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=content_type,
                metadata=meta,
            ),
        )

    def put_file(
        self, key: str, path: str | os.PathLike, content_type: str = "application/octet-stream"
    ) -> PutResult:
        """put() for a file, streamed from disk (multipart when large)."""
        check_key(key)
        digest = sha256_file(path)
        return self._put_if_changed(
            key,
            digest,
            lambda meta: self._client.fput_object(
                self.bucket, key, str(path), content_type=content_type, metadata=meta
            ),
        )

    def _put_if_changed(self, key: str, digest: str, upload: Callable[[dict], object]) -> PutResult:
        latest = self._head(key)
        if latest is not None and latest.metadata.get(f"x-amz-meta-{SHA256_META}") == digest:
            return PutResult(key, latest.version_id, changed=False)
        result = self._call(upload, {SHA256_META: digest})
        return PutResult(key, result.version_id, changed=True)

    # -- reading -----------------------------------------------------------------------

    def get(self, key: str, version_id: str | None = None) -> bytes:
        def fetch() -> bytes:
            response = self._client.get_object(self.bucket, key, version_id=version_id)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        try:
            return self._call(fetch)
        except ObjectNotFound:
            raise self._missing(key, version_id) from None

    def stat(self, key: str, version_id: str | None = None) -> dict:
        """key, version_id, last_modified, size, sha256, content_type, etag."""
        obj = self._head(key, version_id)
        if obj is None:
            raise self._missing(key, version_id)
        return {
            "key": key,
            "version_id": obj.version_id,
            "last_modified": obj.last_modified,
            "size": obj.size,
            "sha256": obj.metadata.get(f"x-amz-meta-{SHA256_META}"),
            "content_type": obj.content_type,
            "etag": obj.etag,
        }

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def versions(self, key: str) -> list[dict]:
        """Every version of `key`, newest first (S3 lists them so):
        version_id, is_latest, last_modified, size, sha256, delete_marker."""

        def list_versions() -> list:
            return [
                o
                for o in self._client.list_objects(self.bucket, prefix=key, include_version=True)
                if o.object_name == key  # the prefix also matches longer keys
            ]

        listed = self._call(list_versions)
        history = []
        for o in listed:
            head = None if o.is_delete_marker else self._head(key, o.version_id)
            history.append(
                {
                    "version_id": o.version_id,
                    "is_latest": o.is_latest == "true",  # minio 7.2 gives the string "true"/"false"
                    "last_modified": o.last_modified,
                    "size": o.size or 0,
                    "sha256": head.metadata.get(f"x-amz-meta-{SHA256_META}") if head else None,
                    "delete_marker": bool(o.is_delete_marker),
                }
            )
        return history

    def list(self, prefix: str = "", recursive: bool = True) -> Iterator[str]:
        """Keys under `prefix` in key order (with recursive=False, "folders" end in /).

        A listing interrupted by a transient failure resumes after the last key it gave."""
        last = None
        failures = 0
        while True:
            try:
                for obj in self._client.list_objects(
                    self.bucket, prefix=prefix, recursive=recursive, start_after=last
                ):
                    if last is not None and obj.object_name <= last:
                        continue  # a folder seen before the interruption, listed again
                    last = obj.object_name
                    failures = 0
                    yield last
                return
            except Exception as exc:
                failures += 1
                self._after_failure(exc, failures)

    def presign(
        self, key: str, expires: timedelta = timedelta(hours=1), version_id: str | None = None
    ) -> str:
        """A URL anyone can GET the object with until it expires."""
        return self._call(
            self._client.presigned_get_object,
            self.bucket,
            key,
            expires=expires,
            version_id=version_id,
        )

    # -- plumbing ----------------------------------------------------------------------

    def _ensure_versioned_bucket(self) -> None:
        """Create the bucket with versioning on; refuse a bucket whose versioning is not on,
        where put() would overwrite the only copy of an article."""

        def create() -> bool:
            try:
                self._client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    return False
                raise
            return True

        if not self._call(self._client.bucket_exists, self.bucket):
            if self._call(create):
                self._call(
                    self._client.set_bucket_versioning, self.bucket, VersioningConfig(ENABLED)
                )
                return
            time.sleep(1)  # lost a creation race: give the winner time to enable versioning
        status = self._call(self._client.get_bucket_versioning, self.bucket).status
        if status != ENABLED:
            raise ArchiveError(
                f"bucket {self.bucket!r} at {self.endpoint} has versioning "
                f"{status or 'never enabled'}, so writes would overwrite archived versions; "
                "enable versioning on it or use another bucket"
            )

    def _head(self, key: str, version_id: str | None = None) -> Object | None:
        """stat_object, or None when there is no such key/version."""
        try:
            return self._call(self._client.stat_object, self.bucket, key, version_id=version_id)
        except ObjectNotFound:
            return None

    def _missing(self, key: str, version_id: str | None) -> ObjectNotFound:
        what = f"{key!r}" + (f" version {version_id!r}" if version_id else "")
        return ObjectNotFound(f"no object {what} in bucket {self.bucket!r} at {self.endpoint}")

    def _call(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """fn(*args, **kwargs), retried on transient failures, with errors made clear."""
        for attempt in range(1, self.tries + 1):
            if self._down:
                raise ArchiveUnavailable(self._down)
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                self._after_failure(exc, attempt)
        raise AssertionError("unreachable")  # _after_failure raises on the last attempt

    def _after_failure(self, exc: Exception, attempt: int) -> None:
        """Sleep before the next try of a transient failure; raise anything else as a clear
        error."""
        if isinstance(exc, S3Error):
            if exc.code in _NOT_FOUND:
                raise ObjectNotFound(
                    f"no object {exc.object_name!r} in bucket {self.bucket!r} at {self.endpoint}"
                ) from exc
            if exc.code in _AUTH_FAILED:
                raise ArchiveAuthError(
                    f"S3 at {self.endpoint} refused access key {self.access_key!r} ({exc.code}); "
                    "check EPAPER_S3_ACCESS_KEY and EPAPER_S3_SECRET_KEY"
                ) from exc
            target = "/".join(filter(None, (exc.bucket_name, exc.object_name)))
            if exc.code == _FULL_CODE:
                raise ArchiveFull(
                    f"the S3 server's storage is full ({self.endpoint} refused "
                    f"{target or 'a write'}: {exc.code} {exc.message})"
                ) from exc
            if exc.response.status < 500:
                raise ArchiveError(
                    f"S3 at {self.endpoint} refused {target or 'the request'}: "
                    f"{exc.code} ({exc.message})"
                ) from exc
        elif not isinstance(exc, _TRANSIENT):
            raise exc
        reason = _reason(exc)
        if isinstance(exc, _NO_ANSWER):
            if self._is_down(reason):
                raise ArchiveUnavailable(self._down) from exc
        else:
            self._check_space(reason, exc)
        if attempt >= self.tries:
            if isinstance(exc, _NO_ANSWER):
                raise ArchiveUnavailable(
                    f"S3 at {self.endpoint} unreachable: {reason} ({attempt} tries)"
                ) from exc
            raise ArchiveUnavailable(
                f"S3 at {self.endpoint} answered {reason} to {attempt} tries "
                "(a full disk on the server gives this answer too: see the server's log)"
            ) from exc
        delay = self.backoff * 2 ** (attempt - 1)
        log.warning(
            "S3 at %s: %s; retry %d/%d in %.1fs",
            self.endpoint,
            reason,
            attempt,
            self.tries - 1,
            delay,
        )
        time.sleep(delay)

    def _check_space(self, reason: str, exc: Exception) -> None:
        """An error answer from a server whose data folder is here: is its disk full?"""
        if self.data_dir is None:
            return
        try:
            full, free = _nearly_full(self.data_dir)
        except OSError:
            return  # the folder is gone: not a question of space
        if full:
            raise ArchiveFull(
                f"the S3 server's storage is full ({self.data_dir}: {free} bytes free; "
                f"S3 at {self.endpoint} answered {reason})"
            ) from exc

    def _is_down(self, reason: str) -> bool:
        """After a request got no answer: is the server down? One HEAD of the bucket, with
        a short timeout and no retries, decides for every thread (the first to ask checks)."""
        with self._down_lock:
            if self._down:
                return True
            try:
                self._probe_client.bucket_exists(self.bucket)
            except (S3Error, ServerError, InvalidResponseError):
                return False  # it answered
            except _NO_ANSWER as exc:
                self._down = (
                    f"S3 at {self.endpoint} unreachable: {reason}; a check of bucket "
                    f"{self.bucket!r} got no answer either ({_reason(exc)}), so nothing more "
                    "is sent to it"
                )
                log.warning("%s", self._down)
                return True
            return False


def in_parallel(calls: Iterable[Callable[[], T]], workers: int = 8) -> list[T]:
    """Run `calls` (archive writes of one edition) on a thread pool, results in their order,
    so their S3 round trips overlap. At the first failure the calls not started yet are
    dropped; the failure is raised once the running ones have ended.
    At most 8 at once: the client's connection pool holds 10."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(call) for call in calls]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for future in pending:
                future.cancel()
            wait(pending)
            raise failed[0].exception()
    return [future.result() for future in futures]


def _reason(exc: Exception) -> str:
    """A short, one-line cause of a transient failure."""
    if isinstance(exc, S3Error):
        return f"HTTP {exc.response.status} {exc.code}"
    if isinstance(exc, ServerError):
        return f"HTTP {exc.status_code}"
    cause = getattr(exc, "reason", None) or exc  # urllib3's MaxRetryError wraps the cause
    if isinstance(cause, urllib3.exceptions.ProtocolError) and len(cause.args) == 2:
        # ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))
        what, inner = cause.args
        return f"{str(what).rstrip('.').lower()}: {getattr(inner, 'strerror', None) or inner}"[:200]
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    if text.startswith("HTTP"):  # drop urllib3's "HTTPConnection(host=…, port=…): " prefix
        text = text.split("): ", 1)[-1]
    return text[:200]


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "0").strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no", ""):
        return False
    raise ValueError(f"{name} must be 0 or 1, got {value!r}")


def _archive_from_env(bucket: str | None = None, tries: int = DEFAULT_TRIES) -> Archive:
    """Connect to the server that EPAPER_S3_ENDPOINT and friends describe."""
    env = os.environ
    endpoint = env["EPAPER_S3_ENDPOINT"]
    access_key, secret_key = env.get("EPAPER_S3_ACCESS_KEY"), env.get("EPAPER_S3_SECRET_KEY")
    if not access_key or not secret_key:
        raise ArchiveError(
            f"EPAPER_S3_ENDPOINT is {endpoint}: "
            "set EPAPER_S3_ACCESS_KEY and EPAPER_S3_SECRET_KEY too"
        )
    return Archive(
        endpoint,
        access_key,
        secret_key,
        bucket=bucket or env.get("EPAPER_S3_BUCKET") or DEFAULT_BUCKET,
        secure=_env_flag("EPAPER_S3_SECURE"),
        tries=tries,
        data_dir=server.data_dir
        if (server := _shared["server"]) and server.endpoint == endpoint
        else None,
    )


# The embedded server this process started, shared by nested and concurrent
# open_archive() calls; it stops when the last of them exits.
_shared_lock = threading.Lock()
_shared: dict = {"server": None, "users": 0, "saved_env": {}}
_EXPORTED = (
    "EPAPER_S3_ENDPOINT",
    "EPAPER_S3_ACCESS_KEY",
    "EPAPER_S3_SECRET_KEY",
    "EPAPER_S3_SECURE",
)


@contextmanager
def open_archive(bucket: str | None = None, tries: int = DEFAULT_TRIES) -> Iterator[Archive]:
    """The archive bucket: on EPAPER_S3_ENDPOINT if set, else on an embedded SeaweedFS
    under $EPAPER_HOME/s3, whose endpoint and keys are exported to os.environ while open
    (so subprocesses use it too)."""
    with _shared_lock:
        embedded = _shared["server"] is not None or not os.environ.get("EPAPER_S3_ENDPOINT")
        if embedded:
            _acquire_embedded()
    try:
        yield _archive_from_env(bucket, tries)
    finally:
        if embedded:
            with _shared_lock:
                _release_embedded()


def _acquire_embedded() -> None:
    if _shared["server"] is None:
        home = epaper_home()
        server = EmbeddedS3(home / "s3")
        try:
            server.start()
        except (OSError, EmbeddedS3Error) as exc:
            _raise_if_full(server.data_dir, exc)
            raise
        values = {
            "EPAPER_S3_ENDPOINT": server.endpoint,
            "EPAPER_S3_ACCESS_KEY": server.access_key,
            "EPAPER_S3_SECRET_KEY": server.secret_key,
            "EPAPER_S3_SECURE": "0",
        }
        _shared["saved_env"] = {name: os.environ.get(name) for name in _EXPORTED}
        os.environ.update(values)
        _shared["server"] = server
    _shared["users"] += 1


def _raise_if_full(data_dir: Path, exc: Exception) -> None:
    """weed cannot start on a full disk (it writes its raft state and logs), nor can we
    write its log: say that, naming the folder, rather than what failed first."""
    folder = next((f for f in (data_dir, *data_dir.parents) if f.exists()), data_dir)
    full, free = _nearly_full(folder)
    if getattr(exc, "errno", None) == errno.ENOSPC or full:
        raise ArchiveError(
            f"no space left on device: {data_dir} ({free} bytes free), where the embedded "
            "S3 server keeps its data; free some space, or set EPAPER_S3_ENDPOINT"
        ) from exc


def _release_embedded() -> None:
    _shared["users"] -= 1
    if _shared["users"]:
        return
    server, _shared["server"] = _shared["server"], None
    for name, value in _shared["saved_env"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    server.stop()
