"""Wave benchmark: planning the waves of 1,000,000 readers over 40 time zones, beside a send.

Seeds a fresh SQLite store with ``--readers`` active subscribers spread over 40 zones (a tenth
with no zone of their own), then times what a list sent in its readers' zones adds to a send:

- plan: readers per zone (one GROUP BY) and the wave plan (each zone's instant, grouped);
- ledger by wave: planning the ledger rows wave by wave (one filtered INSERT ... SELECT each),
  against planning them all at once, as a list sent in one zone does;
- send: delivering the whole issue through the local fake SendGrid (``bench/send.py``'s).

    .venv/bin/python bench/waves.py [--readers 1000000] [--workers 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from send import EMAIL, KEY, fake  # noqa: E402
from sqlalchemy import text  # noqa: E402

from digest.config import load_settings  # noqa: E402
from digest.delivery.options import SendGridOptions  # noqa: E402
from digest.delivery.sendgrid import SendGridBackend  # noqa: E402
from digest.models import Window  # noqa: E402
from digest.send import Sender  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.tokens import Signer  # noqa: E402
from digest.waves.local import readers_by_zone, wave_zones  # noqa: E402
from digest.waves.plan import plan  # noqa: E402

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
FROZEN = NOW + timedelta(minutes=1)
"""When the issue froze: after the roster was synced (readers changed since go in later waves)."""
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


def seed(store: Store, count: int) -> tuple[int, int]:
    """``count`` active readers over the 40 zones, every tenth without one; a frozen issue."""
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
    issue = store.issues.create(list_id, 1, Window(NOW, NOW), [], EMAIL, NOW)
    assert issue is not None
    return list_id, issue.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    settings = load_settings(ROOT / "config.toml")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        list_id, issue_id = seed(store, args.readers)

        started = time.perf_counter()
        counts = readers_by_zone(store, list_id, DEFAULT)
        waves = plan(WALL, counts, DEFAULT)
        planning = time.perf_counter() - started
        assert sum(w.readers for w in waves.waves) == args.readers

        started = time.perf_counter()
        present = store.subscribers.zone_counts(list_id)
        done: dict[datetime, str] = {}
        for wave in waves.waves:
            zones = wave_zones(waves, wave.at, done, DEFAULT, present, FROZEN)
            store.issues.plan_active(issue_id, list_id, NOW, zones=zones)
            done[wave.at] = "sent"
        by_wave = time.perf_counter() - started
        assert store.issues.counts(issue_id) == {"planned": args.readers}

        whole = store.issues.create(
            list_id, 2, Window(NOW.replace(day=20), NOW.replace(day=28)), [], EMAIL, NOW
        )
        assert whole is not None
        started = time.perf_counter()
        store.issues.plan_active(whole.id, list_id, NOW)
        at_once = time.perf_counter() - started

        issue = store.issues.by_number(list_id, 1)
        with fake() as url:
            options = SendGridOptions(host=url, workers=args.workers, timeout=60.0)
            backend = SendGridBackend(options, KEY)
            sender = Sender(settings, store, backend, Signer(b"bench-signing-key-0123456789"))
            started = time.perf_counter()
            assert sender.deliver(issue, "bench") == {"accepted": args.readers}
            send = time.perf_counter() - started
        store.close()

    n = f"{args.readers:,}"
    print(f"waves: {n} readers over {len(ZONES)} zones -> {len(waves.waves)} waves")
    print(f"plan (readers per zone + wave plan): {planning * 1000:8.1f} ms")
    print(f"ledger rows by wave ({len(waves.waves)} inserts): {by_wave:8.2f} s")
    print(f"ledger rows at once (1 insert):       {at_once:8.2f} s")
    print(f"send to the fake SendGrid:            {send:8.2f} s")
    share = (planning + max(by_wave - at_once, 0)) / send * 100
    print(f"waves add {share:.2f}% to the send (planning + ledger by wave beyond at once)")


if __name__ == "__main__":
    main()
