"""Collect benchmark: 200 local feeds of 25 entries each, through digest and through feedparser.

Usage: python bench/collect.py [--feeds 200] [--entries 25] [--processes N]
    [--rounds 3]

Writes the feeds to a temporary folder, serves them from a separate process on 127.0.0.1,
then in the same run (1) fetches and parses every feed with a plain sequential httpx +
feedparser loop, (2) runs the real ``digest collect --json`` (the installed console script,
as an operator runs it) parsing in-process (``[collect] processes = 1``) and (3) parsing in a
pool of processes (default: one per CPU), each into a fresh SQLite store. digest's time is
the collect phase the command reports (``seconds``: every source read and stored, the pool
started from nothing), not its interpreter start and imports, as the loop's imports are not
timed either. The loop and the pool run back to back ``--rounds`` times (the in-process
collect in the first round only), so that other work on the machine for a moment skews one
pair, not the comparison. Prints each time, the CPU and peak RSS of the command's own
process, and each round's ratio to the loop; the target is the median of those
ratios at most 0.8.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import httpx

ROOT = Path(__file__).resolve().parents[1]
AREAS = ["Security", "Climate", "Diplomacy", "Development", "Human Rights", "NATO", "Trade"]
AUTHORS = ["Jane Doe", "Maya Okafor", "Lee Park", "Amira Hassan", "Tomas Reyes"]


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(size)]


def sentence(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choices(words, k=rng.randint(8, 20))).capitalize() + "."


def feed(n: int, entries: int, rng: random.Random, words: list[str], now: datetime) -> str:
    items = []
    for i in range(entries):
        paras = "".join(
            f"<p>{' '.join(sentence(rng, words) for _ in range(3))} "
            f'<a href="/related/{rng.randint(1, 999)}">link</a></p>'
            for _ in range(rng.randint(4, 8))
        )
        boiler = (
            f'<p>The post <a href="/p/{i}">Post {i}</a> appeared first on <a href="/">B{n}</a>.</p>'
        )
        when = format_datetime(now - timedelta(hours=rng.randint(1, 24 * 14)))
        cats = "".join(f"<category>{c}</category>" for c in rng.sample(AREAS, 2))
        items.append(
            f"<item><title>{sentence(rng, words)}</title>"
            f"<link>https://blog{n}.example.org/{i}/?utm_source=rss</link>"
            f'<guid isPermaLink="false">https://blog{n}.example.org/?p={i}</guid>'
            f"<dc:creator>{rng.choice(AUTHORS)}</dc:creator><pubDate>{when}</pubDate>{cats}"
            f"<description><![CDATA[{sentence(rng, words)} [&#8230;]]]></description>"
            f"<content:encoded><![CDATA[{paras}{boiler}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Blog {n}</title><link>https://blog{n}.example.org/</link>{''.join(items)}"
        "</channel></rss>"
    )


def spin(n: int) -> int:
    """Pure CPU work, for measuring how many cores this run really gets."""
    x = 0
    for i in range(n):
        x += i
    return x


def parallel_speedup(work: int = 20_000_000) -> float:
    """Wall time of ``work`` in one process over the same split in two: 2.0 on two idle cores.

    On a shared machine the kernel shares the CPU out per session (autogroup), so a second
    process may buy little; a pool cannot beat what this shows.
    """
    walls = []
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(spin, [1, 1]))  # started
        for parts in (1, 2):
            started = time.perf_counter()
            list(pool.map(spin, [work // parts] * parts))
            walls.append(time.perf_counter() - started)
    return walls[0] / walls[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"server at {url} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=25)
    parser.add_argument("--processes", type=int, default=None, help="default: the CPUs")
    parser.add_argument("--rounds", type=int, default=3, help="loop and pool, back to back")
    args = parser.parse_args()
    speedup = parallel_speedup()
    rng = random.Random(42)
    words = vocabulary(rng)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "feeds"
        folder.mkdir()
        for n in range(args.feeds):
            (folder / f"{n}.xml").write_text(feed(n, args.entries, rng, words, now), "utf-8")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
             "--directory", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/0.xml")
            urls = [f"{base}/{n}.xml" for n in range(args.feeds)]

            runs: dict[str, list[Outcome]] = {}
            loops: list[float] = []
            entries = 0
            # each round: the loop, then digest in a pool, back to back, so that a moment of
            # other work on the machine skews one round's pair, not the whole comparison
            for n in range(args.rounds):
                started = time.perf_counter()
                entries = 0
                with httpx.Client() as client:
                    for url in urls:
                        entries += len(feedparser.parse(client.get(url).content).entries)
                loops.append(time.perf_counter() - started)
                modes = (("pool", args.processes),) + ((("in-process", 1),) if n == 0 else ())
                for label, processes in modes:
                    config = Path(tmp) / f"{label}-{n}.toml"
                    config.write_text(config_text(urls, processes), "utf-8")
                    runs.setdefault(label, []).append(run_digest(config, processes))
        finally:
            server.terminate()
            server.wait()
    peak = max(r[6] for results in runs.values() for r in results)
    print(f"feeds: {args.feeds} x {args.entries} entries, 8 fetch threads (digest's)")
    ok = peak < 300
    ratios = [pool[0] / loop for pool, loop in zip(runs["pool"], loops, strict=True)]
    for n, loop in enumerate(loops):
        print(f"round {n + 1}:")
        print(f"  feedparser loop:    {loop:.2f} s for {entries} entries (fetch + parse in turn)")
        for label, results in runs.items():
            if n >= len(results):
                continue
            wall, cpu, processes, new, stored, failed, _, whole = results[n]
            print(f"  digest {label + ':':<12} {wall:.2f} s collecting ({whole:.2f} s the whole "
                  f"command), {cpu:.2f} s CPU of the command's process, {processes} parsing, "
                  f"{new} new posts ({stored} in store), {failed} sources failed, "
                  f"ratio to the loop {wall / loop:.2f}")  # fmt: skip
            ok = ok and failed == 0 and stored == args.feeds * args.entries
    print(f"load average:       {os.getloadavg()[0]:.1f} (other work on this machine skews times)")
    print(
        f"CPU work split over 2 processes ran {speedup:.2f}x as fast as in 1 (2.00: two idle cores)"
    )
    print(f"peak RSS:           {peak:.0f} MB (the largest process of a digest collect)")
    ratio = statistics.median(ratios)
    alone = runs["in-process"][0][0] / runs["pool"][0][0]
    print(f"ratio digest pool / feedparser loop, each round: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f} "
          f"(in-process / pool, round 1: {alone:.2f})")  # fmt: skip
    met = ok and ratio <= 0.8
    print(f"target (median pool <= 0.8x the loop, < 300 MB, every post stored): "
          f"{'met' if met else 'MISSED'}")  # fmt: skip


Outcome = tuple[float, float, int, int, int, int, float, float]
"""Collect seconds, CPU, processes, new, stored, failed, peak RSS (MB), whole command's wall."""


def config_text(urls: list[str], processes: int | None) -> str:
    """A config of ``urls``' feeds, a store beside it, and the project's taxonomy."""
    parts = (ROOT / "config.toml").read_text("utf-8").split("\n[")
    # the project's own sections but its database, sources, lists and delivery
    kept = [p for p in parts[1:] if not p.startswith(("database]", "[sources]", "[lists]",
                                                       "delivery"))]  # fmt: skip
    text = parts[0] + "".join(f"\n[{p}" for p in kept)
    text += '\n[database]\nurl = "sqlite:///collect.db"\n'
    text += f"\n[collect]\nprocesses = {processes}\n" if processes is not None else ""
    text += "".join(f'\n[[sources]]\nname = "blog{n}"\ntype = "feed"\nurl = "{url}"\n'
                    for n, url in enumerate(urls))  # fmt: skip
    subscribers = (ROOT / "subscribers" / "weekly.csv").as_posix()
    text += f'\n[[lists]]\nname = "weekly"\nsubscribers = "{subscribers}"\n'
    return text + '\n[delivery]\nbackend = "outbox"\n[delivery.outbox]\npath = "outbox"\n'


def run_digest(config: Path, processes: int | None) -> Outcome:
    """``digest --config CONFIG collect --json`` in a process of its own, into a fresh store
    beside the config (see ``Outcome``)."""
    digest = Path(sys.executable).parent / "digest"
    if not digest.exists():
        raise SystemExit(f"{digest} not found: install digest first (make install)")
    (config.parent / "collect.db").unlink(missing_ok=True)
    started = time.perf_counter()
    command = subprocess.Popen([digest, "--config", config, "collect", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    out = command.stdout.read() if command.stdout else b""
    _, status, usage = os.wait4(command.pid, 0)
    whole = time.perf_counter() - started
    command.returncode = os.waitstatus_to_exitcode(status)
    report = json.loads(out)
    parsing = processes or os.cpu_count() or 1
    new = sum(s["new"] for s in report["sources"])
    failed = len(report["errors"])
    # its own CPU, imports included: the parsing processes are the forkserver's children
    cpu = usage.ru_utime + usage.ru_stime
    peak = usage.ru_maxrss / 1024
    return report["seconds"], cpu, parsing, new, len(report["posts"]), failed, peak, whole


if __name__ == "__main__":
    main()
