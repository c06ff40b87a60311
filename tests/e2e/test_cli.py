"""The `scheduler` command line: one-line errors, non-zero exits, secrets tooling."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.cluster import refusal_line

pytestmark = pytest.mark.e2e

#: A database URL the cluster roles accept as such (never reached: the settings are refused first).
POSTGRES = {"SCHEDULER_DATABASE__URL": "postgresql://scheduler@127.0.0.1:1/scheduler"}
#: Start-up logs off stderr, to see the error line alone.
QUIET = {"SCHEDULER_LOGGING__LEVEL": "ERROR"}
WORKER = {"SCHEDULER_QUEUE__URL": "redis://127.0.0.1:1/0", "SCHEDULER_WORKER__API_KEY": "sk_test"}


def scheduler(*args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scheduler_app", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **(env or {})},
        check=False,
    )


def test_an_encrypted_setting_round_trips_through_config_check(tmp_path: Path) -> None:
    key = scheduler("config", "new-key", cwd=tmp_path).stdout.strip()
    token = scheduler(
        "config", "encrypt", "postgresql://u:pw@db/x", env={"SCHEDULER_SECRET_KEY": key}, cwd=tmp_path
    )
    assert token.returncode == 0, token.stderr
    (tmp_path / "s.toml").write_text(f'[database]\nurl = "{token.stdout.strip()}"\n')

    checked = scheduler(
        "--config", "s.toml", "config", "check", env={"SCHEDULER_SECRET_KEY": key}, cwd=tmp_path
    )

    assert checked.returncode == 0, checked.stderr
    assert "postgresql://u:***@db/x" in checked.stdout
    assert ":pw@" not in checked.stdout


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["config", "encrypt", "x"], {}, "SCHEDULER_SECRET_KEY"),
        (["config", "check"], {"SCHEDULER_API__PORT": "eighty"}, "port"),
        (["--config", "missing.toml", "config", "check"], {}, "does not exist"),
        (["standalone"], {"SCHEDULER_NOPE": "1"}, "nope"),
        (["dispatcher"], {"SCHEDULER_QUEUE__URL": "redis://[bad", **POSTGRES}, "queue.url"),
        (["api"], {"SCHEDULER_QUEUE__URL": "amqp://127.0.0.1:abc/", **POSTGRES}, "queue.url"),
        (["config", "check"], {"SCHEDULER_QUEUE__URL": "kafka://127.0.0.1:9092"}, "queue.url"),
        (["standalone"], {"SCHEDULER_LOGGING__LEVEL": "LOUD"}, "logging.level"),
        (["worker", "--api-url", "notaurl"], WORKER, "worker.api_url"),
        (["worker", "--api-url", "http://127.0.0.1:abc"], WORKER, "worker.api_url"),
        (["--config", "binary.toml", "config", "check"], {}, "binary.toml is not UTF-8"),
        (["apikey", "create", "--name", "ci"], {}, "Choose from: admin, operator, readonly, worker;"),
        (["standalone", "--prot", "8080"], {}, "see `scheduler standalone --help`"),
        (["worker", "--api-key-file", "binary.toml"], WORKER, "--api-key-file binary.toml is not UTF-8"),
        (["worker", "--concurrency", "many"], {}, "see `scheduler worker --help`"),
        (["apikey", "remove"], {}, "see `scheduler apikey --help`"),
        (["apikey", "revoke"], {}, "see `scheduler apikey revoke --help`"),
        (["apikey", "revoke", "one"], {}, "'one' is not a valid integer"),
        (["config", "check"], {"SCHEDULER_CONFIG": "."}, "config file . cannot be read"),
        (["standalone", "--host", "192.0.2.1", "--data-dir", "d"], QUIET, "pass --host or set api.host"),
        (["standalone", "--host", "nowhere.invalid", "--data-dir", "d"], QUIET, "check --host or api.host"),
    ],
)
def test_bad_input_gets_one_line_and_a_non_zero_exit(
    args: list[str], env: dict[str, str], says: str, tmp_path: Path
) -> None:
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe[api]\n")

    result = scheduler(*args, env=env, cwd=tmp_path)

    assert says in refusal_line(result)


def test_api_keys_are_listed_and_revoked_from_the_command_line(tmp_path: Path) -> None:
    secrets = [
        scheduler("apikey", "create", "--name", name, "--role", role, "--data-dir", "d", cwd=tmp_path).stdout
        for name, role in (("ci", "readonly"), ("deploy bot", "operator"))
    ]

    revoked = scheduler("apikey", "revoke", "1", "--data-dir", "d", cwd=tmp_path)
    listed = scheduler("apikey", "list", "--data-dir", "d", cwd=tmp_path)
    unknown = scheduler("apikey", "revoke", "7", "--data-dir", "d", cwd=tmp_path)

    assert (revoked.returncode, revoked.stdout) == (0, "revoked API key 1 (ci, readonly)\n")
    header, first, second = listed.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "ROLE", "CREATED", "EXPIRES", "REVOKED"]
    assert first.split()[:3] == ["1", "ci", "readonly"]
    assert first.split()[-1] != "-"  # revoked, and when
    assert second.split()[:4] == ["2", "deploy", "bot", "operator"]
    assert second.split()[-2:] == ["-", "-"]  # neither expiring nor revoked
    assert not any(secret.strip() in listed.stdout for secret in secrets)
    assert unknown.returncode != 0
    assert refusal_line(unknown) == "error: there is no API key 7: `scheduler apikey list` shows them"
    revoked_at = first.split()[-1]
    again = scheduler("apikey", "revoke", "1", "--data-dir", "d", cwd=tmp_path)
    assert again.stdout == f"API key 1 (ci, readonly) was revoked already, at {revoked_at}\n"
    listed_again = scheduler("apikey", "list", "--data-dir", "d", cwd=tmp_path).stdout
    assert listed_again.splitlines()[1].split()[-1] == revoked_at  # the first revocation's time kept


@pytest.mark.parametrize("command", [["migrate"], ["apikey", "create", "--name", "ci", "--role", "admin"]])
def test_a_database_file_that_cannot_be_opened_is_one_line(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "data" / "scheduler.db").mkdir(parents=True)  # a directory where the file should be

    # the driver's thread used to outlive the event loop and print a traceback, most times: try a few
    for _ in range(3):
        result = scheduler(*command, "--data-dir", "data", cwd=tmp_path)

        assert result.returncode != 0
        assert result.stderr.strip().splitlines() == [
            "error: cannot open the SQLite database 'data/scheduler.db' (unable to open database file): "
            "check that its directory is a directory this process may write to"
        ]


@pytest.mark.parametrize("args", [[], ["apikey"], ["config"]])
def test_a_group_without_a_subcommand_shows_its_help(args: list[str], tmp_path: Path) -> None:
    result = scheduler(*args, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith(f"Usage: {' '.join(['scheduler', *args])} [OPTIONS] COMMAND")
    assert "error" not in result.stderr.lower()


def test_help_names_the_command_as_installed(tmp_path: Path) -> None:
    result = scheduler("worker", "--help", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout.startswith("Usage: scheduler worker [OPTIONS]")


@pytest.mark.parametrize("after", [0.05, 0.1, 0.15])
def test_ctrl_c_while_the_command_is_still_loading_exits_without_a_traceback(
    after: float, tmp_path: Path
) -> None:
    # `after` is when the key is pressed: mostly while the command line's modules are imported.
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("scheduler")), "config", "check"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)

    assert "Traceback" not in stderr
    assert process.returncode in (0, 130, -signal.SIGINT), stderr  # 0: it had finished already
