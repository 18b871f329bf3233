"""A seconds-scale drill of waves with real scheduler processes on one database.

Real zones are hours apart; the drill compiles two zones 10 and 20 seconds east of UTC with
the system's ``zic`` and points the processes' zoneinfo at them (``PYTHONTZPATH``), so three
readers in three zones get one minute's issue in three waves, 10 seconds apart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.store import Store
from digest.store.schema import deliveries, issues, wave_claims

from .test_scheduler_process import rows, stop, wait_for
from .test_waves import LIST

ZONES = "Zone Drill/Plus20 0:00:20 - D20\nZone Drill/Plus10 0:00:10 - D10\n"
READERS = {
    "east@example.org": "Drill/Plus20",
    "mid@example.org": "Drill/Plus10",
    "utc@example.org": "",
}


@pytest.fixture
def tzpath(tmp_path: Path) -> str:
    zic = shutil.which("zic") or "/usr/sbin/zic"
    if not Path(zic).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("zic (tzdata's zone compiler) is required on CI")
        pytest.skip("no zic to compile the drill's time zones")
    source = tmp_path / "drill.zi"
    source.write_text(ZONES, encoding="utf-8")
    out = tmp_path / "zoneinfo"
    subprocess.run([zic, "-d", str(out), str(source)], check=True)
    return os.pathsep.join([str(out), "/usr/share/zoneinfo"])


@pytest.fixture
def drill(project: Path, tzpath: str) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8").replace(
        LIST,
        'schedule = "0 * * * * *"\ntimezone = "UTC"\ndeliver = "local"\nskip_if_empty = false',
    )
    text += '\n[scheduler]\ngrace = "1m"\nlease = "6s"\npoll = "1s"\n'
    config.write_text(text, encoding="utf-8")
    roster = "email,name,areas,status,subscribed_at,source,timezone\n" + "".join(
        f"{e},{e.split('@')[0]},,active,,,{z}\n" for e, z in READERS.items()
    )
    (project / "subscribers" / "weekly.csv").write_text(roster, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PYTHONTZPATH"] = tzpath
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = open(project / f"scheduler-{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "digest", "--config", str(config), "scheduler"],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_three_waves_each_reader_once_with_a_scheduler_killed_between_waves(
    project: Path, drill: Callable[[], subprocess.Popen[bytes]]
) -> None:
    store = Store(load_settings(project / "config.toml").database.url)

    def sent_waves() -> dict[object, list[object]]:
        """Per period with a sent wave: its sent waves, in time order."""
        out: dict[object, list[object]] = {}
        for claim in sorted(rows(store, wave_claims), key=lambda c: str(c["wave"])):
            if claim["outcome"] == "sent":
                out.setdefault(claim["period_start"], []).append(claim["wave"])
        return out

    def first_wave_only() -> object | None:
        """A period whose first wave is sent and whose others nobody has claimed yet."""
        claimed = Counter(c["period_start"] for c in rows(store, wave_claims))
        for period, waves in sent_waves().items():
            if claimed[period] == 1 and waves[0].second == 40:  # type: ignore[attr-defined]
                return period
        return None

    a, b = drill(), drill()  # two schedulers on one database
    wait_for(lambda: first_wave_only() is not None, timeout=240)
    period = first_wave_only()
    a.kill()  # between the first wave and the second
    a.wait()
    wait_for(lambda: len(sent_waves().get(period, [])) >= 2, timeout=120)
    restarted = drill()
    wait_for(lambda: len(store.runs.heartbeats()) == 3, timeout=120)  # it is up: a, b, and it
    wait_for(lambda: len(sent_waves().get(period, [])) == 3, timeout=120)
    for proc in (b, restarted):
        stop(proc)

    (issue,) = [i for i in rows(store, issues) if i["period_start"] == period]
    waves = sent_waves()[period]
    gaps = [(y - x).total_seconds() for x, y in pairwise(waves)]  # type: ignore[operator]
    assert gaps == [10.0, 10.0]  # Drill/Plus20, Drill/Plus10, then UTC
    claims = Counter((c["period_start"], c["wave"]) for c in rows(store, wave_claims))
    assert max(claims.values()) == 1  # each wave claimed once
    ledger = [r for r in rows(store, deliveries) if r["issue_id"] == issue["id"]]
    assert Counter(r["email"] for r in ledger) == Counter(list(READERS))  # each reader once
    assert {r["status"] for r in ledger} == {"accepted"}
    files = list((project / "outbox").glob(f"weekly/*-{issue['number']}/*.eml"))
    assert len(files) == len(READERS)
    per_reader = Counter(
        line.split(b":", 1)[1].strip()
        for f in files
        for line in f.read_bytes().splitlines()
        if line.lower().startswith(b"to:")
    )
    assert len(per_reader) == len(READERS) and set(per_reader.values()) == {1}
