"""Bad input gets a clear message and the documented exit code, before any network call."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smoke.catalog import names_for

SMOKE = str(Path(sys.executable).with_name("smoke"))


def smoke(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PREFECT_API"))}
    return subprocess.run(
        [SMOKE, *args], env=clean | env, capture_output=True, text=True, timeout=60
    )


class Listener:
    """A loopback TCP port that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    sink = Listener()
    yield sink
    sink.close()


def test_live_stripe_key_exits_2_before_any_network_call(listener: Listener) -> None:
    started = time.monotonic()
    proc = smoke(
        "gate",
        "--env",
        "staging",
        SMOKE_BASE_URL=f"http://127.0.0.1:{listener.port}",
        SMOKE_STRIPE_SECRET_KEY="sk_live_canary0123456789",
        SMOKE_STRIPE_API_BASE=f"http://127.0.0.1:{listener.port}",
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "live key" in proc.stderr
    assert "sk_test_" in proc.stderr
    assert "sk_live_canary0123456789" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    time.sleep(0.3)
    assert listener.connections == 0
    assert time.monotonic() - started < 30


def test_live_key_refused_by_demo_too() -> None:
    proc = smoke("demo", SMOKE_STRIPE_SECRET_KEY="sk_live_canary0123456789")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "live key" in proc.stderr


@pytest.mark.parametrize(
    ("value", "words"),
    [("not-a-url", "SMOKE_BASE_URL"), ("ftp://example.test", "not an http(s) URL")],
)
def test_malformed_url_exits_2_naming_the_setting(value: str, words: str) -> None:
    proc = smoke("gate", "--env", "staging", SMOKE_BASE_URL=value)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_target_exits_2_saying_what_to_check() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    proc = smoke("gate", "--env", "staging", SMOKE_BASE_URL=f"http://127.0.0.1:{closed_port}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Cannot reach the target" in proc.stderr
    assert "SMOKE_BASE_URL" in proc.stderr


def test_unknown_environment_without_configuration_exits_2() -> None:
    proc = smoke("gate", "--env", "nowhere")
    assert proc.returncode == 2
    assert "Unknown environment 'nowhere'" in proc.stderr
    assert "smoke blocks push --env nowhere" in proc.stderr


def test_dead_prefect_api_exits_3_quickly(listener: Listener) -> None:
    # Something listens but no Prefect answers: the smoke system cannot run (3), in seconds.
    started = time.monotonic()
    proc = smoke(
        "gate", "--env", "nowhere", PREFECT_API_URL=f"http://127.0.0.1:{listener.port}/api"
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "is not answering" in proc.stderr
    assert "PREFECT_API_URL" in proc.stderr
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["gate", "--env", "x", "--journeys", "auth,payments"], "unknown journey payments"),
        (["gate", "--env", "x", "--deadline", "soon"], "invalid deadline"),
        (["demo", "--fault", "no.such"], "unknown fault"),
        (["gate"], "--env"),
        (["gate", "--env", "a", "--env", "b", "--env", "a"], "--env a is given twice"),
        (["gate", "--env", "a", "--env", "b", "--ephemeral"], "leave it out"),
        (["gate", "--env", "a", "--env", "b", "--fault", "dashboard.feed_500"], "--fault only"),
    ],
)
def test_usage_errors_exit_2(args: list[str], words: str) -> None:
    proc = smoke(*args)
    assert proc.returncode == 2
    assert words in proc.stderr


def test_faults_lists_every_fault_one_per_line() -> None:
    from sandbox import FAULTS

    proc = smoke("faults")
    assert proc.returncode == 0
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == len(FAULTS) >= 22
    for line, (name, description) in zip(lines, FAULTS.items(), strict=True):
        assert line.split()[0] == name
        assert line.endswith(description)


def _imported(stderr: str) -> set[str]:
    """Top-level packages named in ``-X importtime`` output (PYTHONPROFILEIMPORTTIME=1)."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


@pytest.fixture
def contract(tmp_path: Path) -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text("auth:\n  me:\n    pathh: /api/me\n")
    return path


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SMOKE_BASE_URL": "http://127.0.0.1:99999"}, "Port out of range"),
        ({"SMOKE_BASE_URL": "http://[::1"}, "Invalid IPv6 URL"),
        ({"SMOKE_JOURNEYS": "{not json"}, "SMOKE_JOURNEYS='{"),
        (
            {"SMOKE_JOURNEYS": '{"auth": {"checks": {"anonymous_refsed": {}}}}'},
            "'anonymous_refused'",
        ),
        ({"SMOKE_JOURNEYS": '{"payments": {}}'}, "unknown journey 'payments'"),
        ({"SMOKE_STRIPE_SECRET_KEY": "sk_live_x"}, "live key"),
        ({"SMOKE_START_TIMEOUT_S": "soon"}, "SMOKE_START_TIMEOUT_S"),
    ],
)
def test_configuration_errors_exit_2_before_anything_starts_with_the_json_written(
    tmp_path: Path, env: dict[str, str], words: str
) -> None:
    result = tmp_path / "result.json"
    proc = smoke(
        "demo",
        "--json",
        str(result),
        "--report-dir",
        str(tmp_path / "report"),
        PYTHONPROFILEIMPORTTIME="1",
        **env,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr
    assert "Starting the local sandbox" not in proc.stdout
    assert not {"prefect", "playwright", "fastapi"} & _imported(proc.stderr)
    data = json.loads(result.read_text())
    assert (data["verdict"], data["error_kind"], data["exit_code"]) == ("ERROR", "config", 2)
    assert words in data["reasons"][0]
    assert (tmp_path / "report" / "result.json").is_file()


def test_a_misspelt_contract_key_names_the_file_and_the_key(contract: Path) -> None:
    proc = smoke("demo", SMOKE_CONTRACT_FILE=str(contract))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"Contract file {contract}: unknown key 'auth.me.pathh' (did you mean 'path'?)" in (
        proc.stderr
    )


def test_a_usage_error_still_writes_the_json_result(tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    proc = smoke("gate", "--env", "x", "--deadline", "2", "--json", str(result))
    assert proc.returncode == 2
    assert json.loads(result.read_text())["reasons"][0].endswith("between 5 and 3600")


def test_validate_reports_what_is_on_and_refuses_a_bad_contract(contract: Path) -> None:
    ok = smoke("validate", PYTHONPROFILEIMPORTTIME="1")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK: environment 'sandbox'")
    auth = len(names_for("auth"))
    assert f"auth: {auth} of {auth} checks on" in ok.stdout
    assert not {"prefect", "playwright"} & _imported(ok.stderr)
    off = smoke(
        "validate", SMOKE_JOURNEYS='{"billing": {"checks": {"declined_card": {"enabled": false}}}}'
    )
    billing = len(names_for("billing"))
    assert f"billing: {billing - 1} of {billing} checks on (off: declined_card)" in off.stdout
    bad = smoke("validate", "--contract", str(contract))
    assert bad.returncode == 2
    assert "unknown key 'auth.me.pathh'" in bad.stderr


def test_help_and_faults_import_neither_prefect_nor_playwright() -> None:
    for args in (["--help"], ["faults"], ["server", "status"]):
        proc = smoke(*args, PYTHONPROFILEIMPORTTIME="1")
        assert proc.returncode in (0, 1), proc.stderr[-500:]
        assert not {"prefect", "playwright"} & _imported(proc.stderr), args


def test_an_unconfigured_environment_of_several_exits_2_with_each_one_in_the_json(
    tmp_path: Path,
) -> None:
    """Nothing is triggered: the one document names every environment, each ERROR (config)."""
    result = tmp_path / "result.json"
    proc = smoke(
        *("gate", "--env", "nowhere-a", "--env", "nowhere-b"),
        *("--json", str(result), "--report-dir", str(tmp_path / "report")),
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Unknown environment 'nowhere-a'" in proc.stderr
    data = json.loads(result.read_text())
    assert (data["verdict"], data["exit_code"]) == ("ERROR", 2)
    assert [(e["environment"], e["error_kind"]) for e in data["environments"]] == [
        ("nowhere-a", "config"),
        ("nowhere-b", "config"),
    ]
    assert (tmp_path / "report" / "nowhere-b" / "result.json").is_file()
