from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.config.load import load_settings, resolve_config_path
from digest.errors import ConfigError
from digest.sources.directory.source import DirectoryOptions

from .cli_helpers import cli_env, run_digest


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "digest.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """
[[sources]]
name = "posts"
type = "directory"
path = "posts"

[[lists]]
name = "weekly"
subscribers = "subs/weekly.csv"
"""


def test_repo_default_config_loads() -> None:
    root = Path(__file__).resolve().parent.parent
    settings = load_settings(root / "config.toml")
    assert settings.lists[0].name == "weekly"
    assert settings.delivery.backend == "outbox"
    assert settings.database.url == f"sqlite:///{root / 'digest.db'}"
    assert settings.templates.path == root / "templates"


def test_paths_resolve_relative_to_config_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    base = tmp_path / "conf"
    assert settings.lists[0].subscribers == base / "subs" / "weekly.csv"
    options = settings.sources[0].options
    assert isinstance(options, DirectoryOptions)
    assert options.path == base / "posts"
    assert settings.delivery.options().path == base / "outbox"
    assert settings.database.url == f"sqlite:///{base / 'digest.db'}"


def test_unknown_key_is_named_with_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[newsletter]\nnmae = "x"\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert exc.value.subject == str(path)
    assert "newsletter.nmae" in str(exc.value)
    assert "unknown key" in str(exc.value)
    assert "name" in (exc.value.hint or "")


def test_unknown_key_in_array_table_names_index(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace('path = "posts"', 'path = "posts"\nglob = "*"'))
    with pytest.raises(ConfigError, match=r"sources\[0\]\.glob: unknown key"):
        load_settings(path)


def test_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[summary]\nmax_words = "sixty"\n')
    with pytest.raises(ConfigError, match=r"summary\.max_words: expected an integer"):
        load_settings(path)


def test_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"newsleter: unknown section"):
        load_settings(write(tmp_path, MINIMAL + "\n[newsleter]\n"))


def test_bad_schedule_and_timezone(tmp_path: Path) -> None:
    bad_cron = MINIMAL + 'schedule = "every monday"\n'
    with pytest.raises(ConfigError, match=r"lists\[0\].*expected 5 fields"):
        load_settings(write(tmp_path, bad_cron))
    bad_tz = MINIMAL + 'timezone = "Mars/Olympus"\n'
    with pytest.raises(ConfigError, match=r"lists\[0\].*unknown time zone 'Mars/Olympus'"):
        load_settings(write(tmp_path, bad_tz))


def test_unknown_source_type_and_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.type: unknown source type 'ftp'"):
        load_settings(write(tmp_path, MINIMAL.replace('"directory"', '"ftp"')))
    with pytest.raises(ConfigError, match=r"delivery\.backend: unknown backend 'pigeon'"):
        load_settings(write(tmp_path, MINIMAL + '\n[delivery]\nbackend = "pigeon"\n'))


def test_duplicate_list_names(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[lists]]\nname = "weekly"\nsubscribers = "b.csv"\n'
    with pytest.raises(ConfigError, match="two lists are named 'weekly'"):
        load_settings(write(tmp_path, text))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(write(tmp_path, "[newsletter\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_config_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, MINIMAL)
    monkeypatch.setenv("DIGEST_CONFIG", str(path))
    assert resolve_config_path() == path
    assert resolve_config_path(tmp_path / "other.toml") == tmp_path / "other.toml"


def test_secrets_are_named_not_stored(tmp_path: Path) -> None:
    text = MINIMAL + '\n[delivery.sendgrid]\napi_key = "SG.secret"\n'
    with pytest.raises(ConfigError, match=r"delivery\.sendgrid\.api_key: unknown key"):
        load_settings(write(tmp_path, text))


SECRET = "SG.k3yV4lu3-pasted.by_mistake"


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("newsletter", "signing_key_env", f'"{SECRET}"'),
        ("delivery.sendgrid", "api_key_env", f'"{SECRET}"'),
        ("delivery.smtp", "password_env", f'"{SECRET}"'),
        ("web", "sendgrid_public_key_env", f'"{SECRET}"'),
        ("desk", "token_env", '"s3cr3t token with spaces"'),
        ("delivery.smtp", "username_env", "31415926535"),
    ],
)
def test_a_secret_pasted_into_an_env_name_is_refused_unechoed(
    project: Path, table: str, key: str, value: str
) -> None:
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    line = f"{key} = {value}"
    if f"[{table}]\n" in text:
        text = re.sub(rf"^{key} = .*$", line, text, flags=re.MULTILINE)
        assert line in text
    else:
        text += f"\n[{table}]\n{line}\n"
    config.write_text(text, encoding="utf-8")
    result = run_digest(
        project, "run", env=cli_env(DIGEST_SIGNING_KEY="test-signing-key-0123456789abcdef")
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"{table}.{key}: must be the NAME of an environment variable" in " ".join(output.split())
    for secret in (SECRET, "s3cr3t", "31415926535", "SG."):
        assert secret not in output
