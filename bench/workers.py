"""Workers benchmark: one list's send to the local fake SendGrid, in-process and through Celery.

For each mode a fresh project (SQLite) with N subscribers is collected, then ``digest send``
is timed as a subprocess: in-process (today's path), and with ``[workers] broker`` set
through 1 and 2 ``digest worker`` processes (``--concurrency 1`` each), started and ready
before the send. Every mode runs the whole command (roster sync, build, plan, send, record).
Printed per mode: wall time, CPU seconds of all digest processes (the send, the workers'
main and pool processes; not the fake's or RabbitMQ's), peak RSS per process, and the
ratios to the in-process path. Needs RabbitMQ on 127.0.0.1:5672 (a vhost is made and removed).

    .venv/bin/python bench/workers.py [--recipients 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.delivery_helpers import SIGNING_KEY, use_backend, write_roster  # noqa: E402

KEY = "SG.bench-key"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    mode: str
    wall: float
    cpu: float
    rss: dict[str, float]


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def family(pid: int) -> list[int]:
    """A process and its descendants."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        for kid in kids:
            out += family(int(kid))
    return out


def project(tmp: Path, n: int, fake: str, broker: str | None) -> Path:
    for name in ("templates", "subscribers", "posts"):
        shutil.copytree(ROOT / name, tmp / name)
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    shared = ROOT.parent / "shared" / "samples"
    (tmp / "config.toml").write_text(
        text.replace('path = "../shared/samples"', f'path = "{shared}"'), encoding="utf-8"
    )
    write_roster(tmp, n)
    config = use_backend(tmp, "sendgrid", host=fake, timeout=60.0)
    if broker:
        queue = f"bench-{secrets.token_hex(4)}"
        extra = f'\n[workers]\nbroker = "{broker}"\nqueue = "{queue}"\n'
        config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return tmp


def env() -> dict[str, str]:
    return os.environ | {"SENDGRID_API_KEY": KEY, "DIGEST_SIGNING_KEY": SIGNING_KEY}


def digest(where: Path, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args], cwd=where, env=env(), text=True, **kw
    )  # type: ignore[call-overload]


def run(mode: str, n: int, fake: str, broker: str | None, workers: int) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        where = project(Path(tmp), n, fake, broker)
        collect = digest(where, "collect", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert collect.wait() == 0
        started: list[tuple[subprocess.Popen[str], Path]] = []
        for i in range(workers):
            log = where / f"worker{i}.log"
            proc = digest(
                where, "worker", "--concurrency", "1",
                stdout=log.open("w"), stderr=subprocess.STDOUT,
            )  # fmt: skip
            started.append((proc, log))
        for _proc, log in started:
            while " ready." not in log.read_text():
                time.sleep(0.1)
        pids = [p for proc, _ in started for p in family(proc.pid)]
        before = sum(cpu_of(p) for p in pids)
        t0 = time.perf_counter()
        send = digest(where, "send", "--list", "weekly", stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)  # fmt: skip
        _, status, usage = os.wait4(send.pid, 0)
        wall = time.perf_counter() - t0
        out = send.stdout.read() if send.stdout else ""
        assert os.waitstatus_to_exitcode(status) == 0 and f"accepted {n}" in out, out
        pids = [p for proc, _ in started for p in family(proc.pid)]
        cpu = usage.ru_utime + usage.ru_stime + sum(cpu_of(p) for p in pids) - before
        rss = {"send": usage.ru_maxrss / 1024}
        for i, (proc, _) in enumerate(started):
            for j, pid in enumerate(family(proc.pid)):
                rss[f"worker{i}" + (f".pool{j}" if j else "")] = peak_mb(pid)
            proc.terminate()
            proc.wait(60)
        return Figures(mode, wall, cpu, rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    n = args.recipients
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_sendgrid", "--no-validate", "--key", KEY],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert fake.stdout is not None
    url = fake.stdout.readline().strip()
    vhost = f"digest-bench-{secrets.token_hex(4)}"
    ctl = ["rabbitmqctl", "--quiet"]
    subprocess.run([*ctl, "add_vhost", vhost], check=True, capture_output=True)
    try:
        subprocess.run(
            [*ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True, capture_output=True,
        )  # fmt: skip
        broker = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
        results = [
            run("in-process", n, url, None, 0),
            run("celery, 1 worker", n, url, broker, 1),
            run("celery, 2 workers", n, url, broker, 2),
        ]
    finally:
        subprocess.run([*ctl, "delete_vhost", vhost], capture_output=True)
        stats = json.loads(urllib.request.urlopen(f"{url}/stats", timeout=10).read())
        fake.terminate()
        fake.wait()
    base = results[0]
    print(f"{n:,} recipients to the fake SendGrid ({os.cpu_count()} cores), whole digest send:")
    for r in results:
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r.rss.items())
        print(
            f"  {r.mode:<18} wall {r.wall:7.1f}s ({r.wall / base.wall:4.2f}x)  "
            f"cpu {r.cpu:7.1f}s ({r.cpu / base.cpu:4.2f}x, {r.cpu / n * 1e6:.0f} us/recipient)"
            f"  peak RSS MB: {rss}"
        )
    print(f"  throughput 2 workers / 1 worker: {results[1].wall / results[2].wall:.2f}x")
    print(f"  the fake saw {stats['requests']} requests, {stats['recipients']} recipients")


if __name__ == "__main__":
    main()
