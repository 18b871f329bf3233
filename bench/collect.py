"""Collect benchmark: 200 local feeds of 25 entries each, through digest and through feedparser.

Usage: python bench/collect.py [--feeds 200] [--entries 25] [--workers 8] [--processes N]
    [--rounds 3]

Writes the feeds to a temporary folder, serves them from a separate process on 127.0.0.1,
then in the same run (1) fetches and parses every feed with a plain sequential httpx +
feedparser loop, (2) collects them with digest parsing in-process (``[collect] processes =
1``) and (3) with digest parsing in a pool of processes (default: one per CPU), each into a
fresh SQLite store. The loop and the pool run back to back ``--rounds`` times (the in-process
collect in the first round only), so that other work on the machine for a moment skews one
pair, not the comparison. Prints each wall time, the peak RSS, and each round's ratio to the
loop; the target is the median of those ratios at most 0.8.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import feedparser
import httpx

from digest.collect import collect
from digest.config.load import settings_from_dict
from digest.store import Store

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
    parser.add_argument("--workers", type=int, default=8)
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

            raw = tomllib.loads((ROOT / "config.toml").read_text("utf-8"))
            raw["sources"] = [
                {"name": f"blog{n}", "type": "feed", "url": url} for n, url in enumerate(urls)
            ]
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
                    raw["database"] = {"url": f"sqlite:///{tmp}/{label}-{n}.db"}
                    raw["collect"] = {} if processes is None else {"processes": processes}
                    runs.setdefault(label, []).append(in_fresh_process(raw, args.workers))
        finally:
            server.terminate()
            server.wait()
    peak = max(r[6] for results in runs.values() for r in results)
    # the collecting processes, and those they started that are gone and waited for
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"feeds: {args.feeds} x {args.entries} entries, {args.workers} fetch threads")
    ok = peak < 300
    ratios = [pool[0] / loop for pool, loop in zip(runs["pool"], loops, strict=True)]
    for n, loop in enumerate(loops):
        print(f"round {n + 1}:")
        print(f"  feedparser loop:    {loop:.2f} s for {entries} entries (fetch + parse in turn)")
        for label, results in runs.items():
            if n >= len(results):
                continue
            wall, cpu, processes, new, stored, failed = results[n][:6]
            print(f"  digest {label + ':':<12} {wall:.2f} s wall, {cpu:.2f} s CPU of this process, "
                  f"{processes} parsing, {new} new posts ({stored} in store), "
                  f"{failed} sources failed, ratio to the loop {wall / loop:.2f}")  # fmt: skip
            ok = ok and failed == 0 and stored == args.feeds * args.entries
    print(f"load average:       {os.getloadavg()[0]:.1f} (other work on this machine skews times)")
    print(
        f"CPU work split over 2 processes ran {speedup:.2f}x as fast as in 1 (2.00: two idle cores)"
    )
    print(f"peak RSS:           {peak:.0f} MB (the collecting process; the largest process of "
          f"the run {children:.0f} MB)")  # fmt: skip
    ratio = statistics.median(ratios)
    alone = runs["in-process"][0][0] / runs["pool"][0][0]
    print(f"ratio digest pool / feedparser loop, each round: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f} "
          f"(in-process / pool, round 1: {alone:.2f})")  # fmt: skip
    met = ok and ratio <= 0.8
    print(f"target (median pool <= 0.8x the loop, < 300 MB, every post stored): "
          f"{'met' if met else 'MISSED'}")  # fmt: skip


Outcome = tuple[float, float, int, int, int, int, float]
"""Wall, CPU, processes, new, stored, failed; peak RSS (MB) of the collecting process."""


def in_fresh_process(raw: dict[str, Any], workers: int) -> Outcome:
    """``run_digest`` in a process of its own, as ``digest collect`` runs: each round starts
    its parsing processes from nothing (a forkserver lives as long as its parent process)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as one:
        return one.submit(run_digest, raw, workers).result()


def run_digest(raw: dict[str, Any], workers: int) -> Outcome:
    """Collect with these settings into a fresh store (see ``Outcome``)."""
    settings = settings_from_dict(raw, ROOT / "config.toml")
    store = Store(settings.database.url)
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        report = collect(settings, store, datetime.now(UTC), workers=workers)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        stored = len(store.posts.since())
    finally:
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parsers = settings.collect.parsers
    return wall, cpu, parsers, report.new, stored, len(report.failed), peak


if __name__ == "__main__":
    main()
