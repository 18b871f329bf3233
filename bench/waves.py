"""Wave benchmark: planning the waves of 1,000,000 readers over 40 time zones, beside a send.

Seeds two fresh SQLite stores alike with ``--readers`` active subscribers spread over 40 zones
(a tenth with no zone of their own), then sends one issue to all of them in each, through the
local fake SendGrid (``bench/send.py``'s), and prints both times in one run:

- without waves: the ledger planned at once (one INSERT ... SELECT), then one send and its
  report (the ledger's counts, as ``digest send`` ends);
- with waves: readers per zone and the wave plan, the freeze writing every reader's row on its
  wave, then for each wave in time order what its run does to the ledger (readers changed since
  the freeze, its rows released) and its send, and its report (counts of its own rows).

``--noise`` sends the issue without waves a second time in a third store: the run-to-run noise
that "waves add" is to be read against.

    .venv/bin/python bench/waves.py [--readers 1000000] [--workers 4] [--noise]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from send import EMAIL, KEY, fake  # noqa: E402
from sqlalchemy import text  # noqa: E402

from digest.config import Settings  # noqa: E402
from digest.config.load import load_settings  # noqa: E402
from digest.delivery.options import SendGridOptions  # noqa: E402
from digest.delivery.sendgrid import SendGridBackend  # noqa: E402
from digest.models import Window  # noqa: E402
from digest.send import Sender  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.store.accounts import ledger_report  # noqa: E402
from digest.tokens import Signer  # noqa: E402
from digest.waves.local import placing_for, readers_by_zone  # noqa: E402
from digest.waves.plan import plan  # noqa: E402

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
WALL = datetime(2026, 11, 30, 7, 0)  # Monday 07:00, read in every zone
DEFAULT = "America/New_York"
ZONES = (
    "Pacific/Kiritimati", "Pacific/Auckland", "Australia/Sydney", "Australia/Adelaide",
    "Asia/Tokyo", "Asia/Seoul", "Asia/Shanghai", "Asia/Singapore", "Asia/Jakarta",
    "Asia/Yangon", "Asia/Dhaka", "Asia/Kathmandu", "Asia/Kolkata", "Asia/Karachi",
    "Asia/Kabul", "Asia/Dubai", "Asia/Tehran", "Europe/Moscow", "Africa/Nairobi",
    "Europe/Istanbul", "Europe/Athens", "Africa/Cairo", "Europe/Berlin", "Europe/Paris",
    "Africa/Lagos", "Europe/London", "Atlantic/Azores", "Atlantic/South_Georgia",
    "America/Sao_Paulo", "America/St_Johns", "America/Halifax", "America/New_York",
    "America/Bogota", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "Pacific/Pago_Pago",
)  # fmt: skip


def seed(store: Store, count: int, waved: bool) -> tuple[int, int]:
    """``count`` active readers over the 40 zones, every tenth without one; a frozen issue
    (sent in waves if ``waved``)."""
    assert len(ZONES) == 40
    list_id = store.subscribers.list_id("bench")
    cases = " ".join(f"WHEN {i} THEN '{z}'" for i, z in enumerate(ZONES))
    with store.begin() as conn:
        conn.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
                "INSERT INTO subscribers"
                " (list_id, email, name, areas, status, in_roster, updated_at, timezone)"
                " SELECT :list, printf('reader%07d@example.org', i), printf('Reader %d', i), '[]',"
                f" 'active', 1, :now, CASE WHEN i % 10 = 0 THEN NULL ELSE CASE i % 40 {cases}"
                " END END FROM n"
            ),
            {"count": count, "list": list_id, "now": NOW.replace(tzinfo=None)},
        )
    waves = (datetime(2026, 11, 29, 17, 0, tzinfo=UTC),) if waved else ()  # marks it as such
    issue = store.issues.create(list_id, 1, Window(NOW, NOW), [], EMAIL, NOW, waves=waves)
    assert issue is not None
    return list_id, issue.id


class Took:
    """Seconds spent: in all, planning the waves, on the ledger, sending."""

    def __init__(self) -> None:
        self.total = self.planning = self.ledger = self.send = 0.0
        self.waves = 0


def without_waves(store: Store, settings: Settings, issue_id: int, workers: int) -> Took:
    """The ledger planned at once and the issue sent in one go."""
    took = Took()
    list_id = store.subscribers.list_id("bench")
    started = time.perf_counter()
    store.issues.plan_active(issue_id, list_id, NOW)
    took.ledger = time.perf_counter() - started
    issue = store.issues.by_number(list_id, 1)
    with fake() as url:
        sender = make_sender(settings, store, url, workers)
        began = time.perf_counter()
        counts = sender.deliver(issue, "bench")
        took.send = time.perf_counter() - began
    began = time.perf_counter()
    report = ledger_report(store, issue, "bench")  # as digest send ends, and each wave's run
    took.ledger += time.perf_counter() - began
    took.total = time.perf_counter() - started
    assert counts == {"accepted": sum(store.subscribers.zone_counts(list_id).values())}, counts
    assert report.counts == counts, report.counts
    return took


def with_waves(store: Store, settings: Settings, issue_id: int, workers: int) -> Took:
    """The issue sent wave by wave as the runs do: the plan, then for each wave its ledger
    (the freeze first), its send and its report (its rows' counts)."""
    took = Took()
    list_id = store.subscribers.list_id("bench")
    started = time.perf_counter()
    counts = readers_by_zone(store, list_id, DEFAULT)
    waves = plan(WALL, counts, DEFAULT)
    took.planning = time.perf_counter() - started
    took.waves = len(waves.waves)
    outcomes: dict[datetime, str] = {}
    total = 0
    with fake() as url:
        sender = make_sender(settings, store, url, workers)
        for wave in waves.waves:
            began = time.perf_counter()
            placing = placing_for(waves, wave.at, outcomes, DEFAULT)
            issue = store.issues.by_number(list_id, 1)
            store.issues.plan_waves(issue, placing, NOW, None, store.subscribers.active)
            took.ledger += time.perf_counter() - began
            began = time.perf_counter()
            sender.deliver(issue, "bench", placing.released)
            took.send += time.perf_counter() - began
            began = time.perf_counter()
            report = ledger_report(store, issue, "bench", placing.released)
            took.ledger += time.perf_counter() - began
            assert report.outcome == "sent" and report.counts == {"accepted": wave.readers}
            total += wave.readers
            outcomes[wave.at] = "sent"
    took.total = time.perf_counter() - started
    assert store.issues.counts(issue_id) == {"accepted": total} and total == sum(counts.values())
    return took


def make_sender(settings: Settings, store: Store, url: str, workers: int) -> Sender:
    backend = SendGridBackend(SendGridOptions(host=url, workers=workers, timeout=60.0), KEY)
    return Sender(settings, store, backend, Signer(b"bench-signing-key-0123456789"))


def fresh(tmp: str, name: str, readers: int) -> tuple[Store, int]:
    store = Store(f"sqlite:///{tmp}/{name}.db")
    return store, seed(store, readers, name == "waves")[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--noise", action="store_true", help="send without waves twice")
    args = parser.parse_args()
    settings = load_settings(ROOT / "config.toml")
    with tempfile.TemporaryDirectory() as tmp:
        store, issue_id = fresh(tmp, "plain", args.readers)
        plain = without_waves(store, settings, issue_id, args.workers)
        store.close()
        store, issue_id = fresh(tmp, "waves", args.readers)
        waved = with_waves(store, settings, issue_id, args.workers)
        store.close()
        again = None
        if args.noise:
            store, issue_id = fresh(tmp, "again", args.readers)
            again = without_waves(store, settings, issue_id, args.workers)
            store.close()

    def pct(part: float) -> str:
        return f"{part / plain.total * 100:+.2f}%"

    n, w = f"{args.readers:,}", waved.waves
    print(f"waves: {n} readers over {len(ZONES)} zones -> {w} waves")
    print(f"plan (readers per zone + wave plan):     {waved.planning:8.3f} s")
    print(f"ledger without waves (insert + report):  {plain.ledger:8.2f} s")
    print(f"ledger with waves (freeze + {w} runs):     {waved.ledger:8.2f} s")
    print(f"deliver without waves (1 send):          {plain.send:8.2f} s")
    print(f"deliver with waves ({w} sends):            {waved.send:8.2f} s")
    print(f"send without waves (ledger + deliver):   {plain.total:8.2f} s")
    print(f"send with waves (plan+ledger+deliver):   {waved.total:8.2f} s")
    planning = waved.planning + waved.ledger - plain.ledger
    print(f"planning the waves adds {pct(planning)} to the send (plan + ledger beyond at once)")
    print(f"waves add {pct(waved.total - plain.total)} in all ({w} sends, each ending on its own)")
    if again is not None:
        print(f"send without waves, again:               {again.total:8.2f} s")
        print(f"run-to-run noise: {pct(again.total - plain.total)}")


if __name__ == "__main__":
    main()
