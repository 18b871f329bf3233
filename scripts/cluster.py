"""A local digest cluster: N ``digest worker``, 2 ``digest scheduler`` and ``digest serve``.

Against a project whose ``[database] url`` is PostgreSQL and whose ``[workers]`` broker is
RabbitMQ, it runs ``digest db upgrade``, then starts every role in its own process group with
its log in a file, and returns once each is ready on an event, never on a sleep: a worker
when Celery logs `` ready.``, a scheduler when it logs that it runs (after its first heartbeat
is written), the web when uvicorn logs its port and that port answers HTTP. Stopping sends
SIGTERM to each role's leader (schedulers first, so a run under way can finish through the
workers; then the web; then the workers, whose warm shutdown finishes the chunk in hand),
waits, SIGKILLs a process group that does not stop, and checks no process of any group is
left. The children also get SIGTERM from the kernel if this process dies (PR_SET_PDEATHSIG).

    .venv/bin/python scripts/cluster.py --project DIR [--workers 3] [--schedulers 2] [--no-web]
    .venv/bin/python scripts/cluster.py --demo --workers 2

``--demo`` makes a throwaway project (a PostgreSQL database, a RabbitMQ vhost, the sample
posts collected and the sample subscribers, in a temporary folder) and removes it all on exit.
From Python (tests, ``bench/workers.py``)::

    with Cluster(project, workers=2, env=env) as cluster:
        cluster.web_url, cluster.pids()

Hand-written rather than a process manager (supervisord, honcho): those restart or merely
multiplex processes; tests need readiness on digest's own events and a proof of no orphans.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config.load import load_settings  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RABBIT = "amqp://guest:guest@127.0.0.1:5672/{vhost}"
BROKER_ENV = "DIGEST_BROKER_URL"
WEB_LINE = re.compile(r"Uvicorn running on http://([0-9.]+|\[[0-9a-f:]+\]|[\w.-]+):(\d+)")
SCHEDULER_LINE = re.compile(r"^scheduler (\S+) running", re.M)
_PR_SET_PDEATHSIG = 1


class ClusterError(Exception):
    """The cluster cannot start: a bad project, a role that exits or never gets ready."""


def _deathsig() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when this process dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not in the child

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return preexec


@dataclass
class Role:
    """One process of the cluster: ``worker-1``, ``scheduler-2``, ``web``."""

    name: str
    kind: str
    log: Path
    proc: subprocess.Popen[bytes]
    handle: IO[bytes]
    ready: bool = False
    detail: str = ""
    """What readiness found: the scheduler's owner id, the web's URL."""

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, chars: int = 3000) -> str:
        return self.text()[-chars:]


def _alive_in_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of the group we cannot signal: still there
        return True
    return True


def descendants(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc (empty once it is gone)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    out = [pid]
    for task in tasks:
        with contextlib.suppress(OSError):
            for kid in (task / "children").read_text().split():
                out += descendants(int(kid))
    return out


def _answers(url: str) -> bool:
    """True when an HTTP server answers at ``url`` (any status)."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def broker_of(project: Path, env: dict[str, str]) -> str:
    """The broker the project's roles will use, given the environment they get."""
    settings = load_settings(project / "config.toml")
    workers = settings.workers
    return (env.get(workers.broker_env or "", "").strip() if workers.broker_env else "") or (
        workers.broker
    )


def check_project(project: Path, env: dict[str, str]) -> None:
    """ClusterError unless the project shares a PostgreSQL store and a RabbitMQ broker."""
    config = project / "config.toml"
    if not config.is_file():
        raise ClusterError(f"{config}: no config.toml in the project folder")
    url = load_settings(config).database.url
    if not url.startswith("postgresql"):
        raise ClusterError(
            f"{config} [database] url: a cluster's roles share one PostgreSQL database; "
            f"got {url.split(':', 1)[0]}:"
        )
    if not broker_of(project, env).startswith(("amqp://", "amqps://", "pyamqp://")):
        raise ClusterError(
            f"{config} [workers]: set broker (or broker_env, exported) to a RabbitMQ amqp:// URL"
        )


@dataclass
class Cluster:
    """Start on ``__enter__`` (or ``start``), stop on ``__exit__`` (or ``stop``)."""

    project: Path
    workers: int = 2
    schedulers: int = 2
    web: bool = True
    concurrency: int = 1
    """Pool processes per worker (``digest worker --concurrency``)."""
    env: dict[str, str] | None = None
    """The roles' environment (secrets, broker URL); default: this process's."""
    logs: Path | None = None
    """Where the role logs go; default ``PROJECT/cluster-logs``."""
    web_port: int = 0
    """0: a free port the OS picks (read from uvicorn's log)."""
    timeout: float = 600.0
    """Seconds a role may take to get ready, and to stop after SIGTERM."""
    upgrade: bool = True
    roles: list[Role] = field(default_factory=list)
    web_url: str | None = None

    def __post_init__(self) -> None:
        self.project = Path(self.project).resolve()
        self.logs = Path(self.logs or self.project / "cluster-logs").resolve()
        self._env = dict(os.environ if self.env is None else self.env)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Cluster:
        """Upgrade the schema, start every role and wait until each is ready."""
        check_project(self.project, self._env)
        assert self.logs is not None
        self.logs.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        try:
            if self.upgrade:
                self._upgrade()
            for i in range(1, self.workers + 1):
                self._spawn(f"worker-{i}", "worker", "worker", f"--concurrency={self.concurrency}")
            for i in range(1, self.schedulers + 1):
                self._spawn(f"scheduler-{i}", "scheduler", "scheduler")
            if self.web:
                self._spawn("web", "web", "serve", "--port", str(self.web_port))
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _command(self, *args: str) -> list[str]:
        config = str(self.project / "config.toml")
        return [sys.executable, "-X", "faulthandler", "-m", "digest", "--config", config, *args]

    def _upgrade(self) -> None:
        done = subprocess.run(
            self._command("db", "upgrade"), cwd=self.project, env=self._env,
            capture_output=True, text=True, timeout=self.timeout,
        )  # fmt: skip
        if done.returncode != 0:
            raise ClusterError(f"digest db upgrade failed:\n{done.stdout}{done.stderr}")

    def _spawn(self, name: str, kind: str, *args: str) -> Role:
        assert self.logs is not None
        log = self.logs / f"{name}.log"
        handle = log.open("wb")
        proc = subprocess.Popen(
            self._command(*args), cwd=self.project, env=self._env | {"PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_deathsig(),
        )  # fmt: skip
        role = Role(name, kind, log, proc, handle)
        self.roles.append(role)
        return role

    def _check(self, role: Role) -> bool:
        """Whether ``role`` is ready now."""
        text = role.text()
        if role.kind == "worker":
            return " ready." in text
        if role.kind == "scheduler":
            found = SCHEDULER_LINE.search(text)
            if found:
                role.detail = found.group(1)
            return found is not None
        found = WEB_LINE.search(text)
        if found is None:
            return False
        url = f"http://{found.group(1)}:{found.group(2)}"
        if _answers(url + "/"):
            role.detail = self.web_url = url
            return True
        return False

    def wait_ready(self) -> None:
        """Until every role is ready; ClusterError naming a role that exits or is too slow."""
        deadline = time.monotonic() + self.timeout
        while True:
            waiting = [r for r in self.roles if not r.ready]
            for role in waiting:
                if role.proc.poll() is not None:
                    raise ClusterError(
                        f"{role.name} exited {role.proc.returncode} before it was ready "
                        f"({role.log}):\n{role.tail()}"
                    )
                role.ready = self._check(role)
            if all(r.ready for r in self.roles):
                return
            if time.monotonic() > deadline:
                slow = ", ".join(r.name for r in self.roles if not r.ready)
                raise ClusterError(f"not ready after {self.timeout:.0f}s: {slow}")
            time.sleep(0.1)

    def pids(self) -> list[int]:
        """Every live process of the cluster: each role's leader and its descendants."""
        return [p for r in self.roles for p in descendants(r.proc.pid)]

    def role(self, name: str) -> Role:
        return next(r for r in self.roles if r.name == name)

    def dead(self) -> list[Role]:
        """Roles whose leader has exited."""
        return [r for r in self.roles if r.proc.poll() is not None]

    def stop(self) -> None:
        """Schedulers, then web, then workers: SIGTERM, wait, SIGKILL what is left. Idempotent."""
        for kind in ("scheduler", "web", "worker"):
            self._stop_all([r for r in self.roles if r.kind == kind])
        for role in self.roles:
            role.handle.close()
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def _stop_all(self, roles: Sequence[Role]) -> None:
        for role in roles:
            if role.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    role.proc.send_signal(signal.SIGTERM)  # the leader only: a warm shutdown
        deadline = time.monotonic() + self.timeout
        for role in roles:
            try:
                role.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(role.proc.pid, signal.SIGABRT)  # -X faulthandler: stacks to the log
                with contextlib.suppress(subprocess.TimeoutExpired):
                    role.proc.wait(timeout=10)
            pgid = role.proc.pid  # start_new_session: the leader's pid is the group's id
            if _alive_in_group(pgid):  # leftovers (a pool process, a leader that hangs)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                role.proc.wait(timeout=30)
            gone = time.monotonic() + 30
            while _alive_in_group(pgid) and time.monotonic() < gone:
                time.sleep(0.05)


@contextlib.contextmanager
def postgres_database(server: str = POSTGRES) -> Iterator[str]:
    """A new empty database on ``server``, dropped afterwards (WITH FORCE); yields its URL."""
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"digest_cluster_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def rabbit_vhost() -> Iterator[str]:
    """A new RabbitMQ vhost that guest may use, deleted afterwards; yields its broker URL."""
    vhost = f"digest-cluster-{secrets.token_hex(4)}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield RABBIT.format(vhost=vhost)
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@contextlib.contextmanager
def demo_project(postgres: str = POSTGRES) -> Iterator[tuple[Path, dict[str, str]]]:
    """A throwaway project in a temporary folder on its own database and vhost, collected.

    Yields the folder and the environment for its roles; removes all three afterwards.
    """
    with (
        tempfile.TemporaryDirectory(prefix="digest-cluster-") as tmp,
        postgres_database(postgres) as url,
        rabbit_vhost() as broker,
    ):
        folder = write_project(Path(tmp), url, queue=f"digest-{secrets.token_hex(4)}")
        env = dict(os.environ) | {BROKER_ENV: broker}
        env.setdefault("DIGEST_SIGNING_KEY", secrets.token_hex(32))  # throwaway, never shown
        for args in (("db", "upgrade"), ("collect",)):
            done = subprocess.run(
                [sys.executable, "-m", "digest", *args], cwd=folder, env=env,
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            if done.returncode != 0:
                raise ClusterError(f"demo: digest {' '.join(args)} failed:\n{done.stderr}")
        yield folder, env


def write_project(folder: Path, database_url: str, queue: str) -> Path:
    """The default project (config, templates, roster, posts) in ``folder`` on these services."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("templates", "subscribers", "posts"):
        shutil.copytree(ROOT / name, folder / name, dirs_exist_ok=True)
    config = (ROOT / "config.toml").read_text(encoding="utf-8")
    shared = ROOT.parent / "shared" / "samples"
    config = config.replace('path = "../shared/samples"', f'path = "{shared}"')
    config = config.replace('url = "sqlite:///digest.db"', f'url = "{database_url}"')
    config += f'\n[workers]\nbroker_env = "{BROKER_ENV}"\nqueue = "{queue}"\n'
    (folder / "config.toml").write_text(config, encoding="utf-8")
    return folder


def _rabbitmqctl(*args: str) -> None:
    done = subprocess.run(
        ["rabbitmqctl", "--quiet", *args], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise ClusterError(f"rabbitmqctl {args[0]} failed: {done.stderr.strip()}")


def _terminate(signum: int, frame: Any) -> None:
    """The first SIGTERM or Ctrl-C unwinds through the context managers, which stop it all;
    more of them are ignored, so that they cannot cut that stop short and leave orphans."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--project", type=Path, help="the project folder (its config.toml)")
    where.add_argument("--demo", action="store_true", help="a throwaway project, removed on exit")
    parser.add_argument("--workers", type=int, default=2, help="digest worker processes")
    parser.add_argument("--schedulers", type=int, default=2, help="digest scheduler processes")
    parser.add_argument("--no-web", action="store_true", help="no digest serve")
    parser.add_argument("--web-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes per worker")
    parser.add_argument("--logs", type=Path, help="log folder (default PROJECT/cluster-logs)")
    parser.add_argument("--postgres", default=POSTGRES, help="server for --demo's database")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        with contextlib.ExitStack() as stack:
            if args.demo:
                project, env = stack.enter_context(demo_project(args.postgres))
            else:
                project, env = args.project, dict(os.environ)
            cluster = Cluster(
                project, workers=args.workers, schedulers=args.schedulers, web=not args.no_web,
                concurrency=args.concurrency, env=env, logs=args.logs, web_port=args.web_port,
            )  # fmt: skip
            stack.enter_context(cluster)
            print(f"cluster of {project} ready; logs in {cluster.logs}", flush=True)
            for role in cluster.roles:
                extra = f" {role.detail}" if role.detail else ""
                print(f"  {role.name:<12} pid {role.proc.pid}{extra}", flush=True)
            print("Ctrl-C or SIGTERM stops them all", flush=True)
            while not cluster.dead():
                time.sleep(0.5)
            for role in cluster.dead():
                print(f"{role.name} exited {role.proc.returncode}; stopping the cluster "
                      f"(see {role.log})", file=sys.stderr, flush=True)  # fmt: skip
            return 1
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return 0
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
