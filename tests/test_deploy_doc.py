"""docs/deploy.md stays runnable: its compose file parses and has every role, and every
command its systemd units and compose services start is a real ``digest`` command line
(checked by running it with ``--help``, which fails on an unknown command or option)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from .cli_helpers import cli_env, run_digest

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
ROLES = {"postgres", "rabbitmq", "migrate", "web", "scheduler-a", "scheduler-b", "worker"}


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", PAGE, flags=re.S)


def compose() -> dict[str, object]:
    (text,) = [b for b in blocks("yaml") if "services:" in b]
    found: dict[str, object] = yaml.safe_load(text)
    return found


def units() -> dict[str, str]:
    """Each unit's ExecStart, by the unit's file name."""
    found = {}
    for block in blocks("ini"):
        name = re.search(r"^# /etc/systemd/system/(\S+)", block, flags=re.M)
        start = re.search(r"^ExecStart=(.*)$", block, flags=re.M)
        if name and start:
            found[name.group(1)] = start.group(1)
    return found


def digest_argv(words: list[str]) -> list[str]:
    """The arguments after the ``digest`` executable, a systemd ``%i`` made a number."""
    assert Path(words[0]).name == "digest", words
    return [w.replace("%i", "1") for w in words[1:]]


def commands() -> list[list[str]]:
    found = [digest_argv(shlex.split(line)) for line in units().values()]
    services = compose()["services"]
    assert isinstance(services, dict)
    found += [digest_argv(s["command"]) for s in services.values() if "command" in s]
    return [list(argv) for argv in sorted({tuple(argv) for argv in found})]


def test_the_compose_file_parses_and_runs_every_role() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert set(services) == ROLES
    commands = {name: s.get("command", []) for name, s in services.items()}
    assert commands["web"][:2] == ["digest", "serve"]
    assert commands["scheduler-a"] == commands["scheduler-b"] == ["digest", "scheduler"]
    assert commands["worker"][:2] == ["digest", "worker"]
    assert commands["migrate"] == ["digest", "db", "upgrade"]
    for role in ("web", "scheduler-a", "scheduler-b", "worker"):  # all after the upgrade
        depends = services[role]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, role


def test_there_are_units_for_web_scheduler_and_templated_workers() -> None:
    found = units()
    assert set(found) == {
        "digest-web.service",
        "digest-scheduler.service",
        "digest-worker@.service",
    }
    assert "%i" in found["digest-worker@.service"]


@pytest.mark.parametrize("argv", commands(), ids=" ".join)
def test_every_started_command_is_a_digest_command(argv: list[str]) -> None:
    done = run_digest(ROOT, *argv, "--help", env=cli_env())
    assert done.returncode == 0, done.stderr
    assert re.match(rf"Usage: .*digest {argv[0]} ", done.stdout), done.stdout


def test_status_and_the_metrics_keys_are_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    config = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert "| `digest status [--list L] [--json] [--timeout S]` |" in readme
    for key in ("metrics", "metrics_token_env", "metrics_port", "metrics_host"):
        assert f"| `{key}` |" in config, key
    for name in ("digest_recipients_total", "digest_chunk_seconds", "digest_queue_messages"):
        assert f"`{name}`" in PAGE, name
    assert "digest_runs_total" in PAGE and "PROMETHEUS_MULTIPROC_DIR" in PAGE


def base(name: str) -> str:
    """A series name without the suffix prometheus_client adds (``_total``, ``_count``, …)."""
    return re.sub(r"_(total|count|sum|bucket)$", "", name)


def test_every_metric_the_page_names_is_one_digest_exports() -> None:
    code = (ROOT / "digest" / "ops" / "metrics.py").read_text(encoding="utf-8")
    exported = set(re.findall(r'"(digest_\w+)"', code))
    named = {base(n) for n in re.findall(r"`(digest_\w+)`", PAGE)}
    assert len(named) >= 10 and named <= exported, named - exported


def test_the_alert_rules_parse_and_use_only_metrics_digest_exports() -> None:
    (scrape,) = [b for b in blocks("yaml") if b.startswith("# prometheus.yml")]
    jobs = {job["job_name"] for job in yaml.safe_load(scrape)["scrape_configs"]}
    assert jobs == {"digest-web", "digest-workers"}
    (rules,) = [b for b in blocks("yaml") if b.startswith("# digest-alerts.yml")]
    exprs = [r["expr"] for g in yaml.safe_load(rules)["groups"] for r in g["rules"]]
    used = {base(n) for expr in exprs for n in re.findall(r"\bdigest_\w+", expr)}
    named = {base(n) for n in re.findall(r"`(digest_\w+)`", PAGE)}
    assert used and used <= named, used - named
