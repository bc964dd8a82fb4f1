"""Secret canaries: unique marker values for every secret, through every output channel.

`smoke demo` runs twice against a real Prefect server, once passing and once failing
with browser evidence (a trace of a page the test password was typed into), with Slack
pointed at a local Slack. No marker may appear in stdout/stderr, the JSON, the JUnit
file, the report folder (trace archives unpacked), the Prefect artifacts and logs read
back from the API, or any Slack payload.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.slack_server import FakeSlack

pytestmark = pytest.mark.e2e


def markers() -> dict[str, str]:
    tag = secrets.token_hex(6)
    return {
        "SMOKE_E2E_TOKEN": f"canary-e2e-{tag}",
        "SMOKE_TEST_PASSWORD": f"canary-password-{tag}",
        "SMOKE_OTHER_PASSWORD": f"canary-other-{tag}",
        "SMOKE_STRIPE_SECRET_KEY": f"sk_test_canary{tag}",
        "SMOKE_STRIPE_WEBHOOK_SECRET": f"whsec_canary{tag}",
        "SMOKE_SLACK_TOKEN": f"xoxb-canary-{tag}",
    }


def texts_under(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` as text, zip members (traces) unpacked."""
    out: dict[str, str] = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    out[f"{path}!{member}"] = archive.read(member).decode("utf-8", "replace")
        else:
            out[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return out


async def prefect_records(api_url: str, env: dict[str, str]) -> dict[str, str]:
    """Every log line and artifact the server holds, as text."""
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api_url) as client:
        logs = await client.read_logs(limit=200)
        offset = 200
        while True:
            more = await client.read_logs(limit=200, offset=offset)
            if not more:
                break
            logs += more
            offset += 200
        artifacts = await client.read_artifacts(limit=200)
    out = {f"log {i}": log.message for i, log in enumerate(logs)}
    out |= {f"artifact {a.key}": json.dumps(a.data, default=str) for a in artifacts}
    return out


def test_no_secret_reaches_any_output(prefect_server: Any, smoke_cli: Any, tmp_path: Path) -> None:
    values = markers()
    with FakeSlack() as slack:
        env = prefect_server.env(
            **values,
            SMOKE_SLACK_CHANNEL="#smoke",
            SMOKE_SLACK_API_URL=slack.api_url,
            # A dropped webhook is given 5 s, not 30: the run only needs to fail.
            SMOKE_JOURNEYS=json.dumps({"billing": {"poll_timeout_s": 5}}),
        )
        outputs: dict[str, str] = {}
        runs = {
            "pass": [],
            "fail": ["--fault", "auth.login_broken", "--fault", "dashboard.ui_js_error"],
        }
        for name, faults in runs.items():
            report = tmp_path / name
            proc = smoke_cli(
                [
                    "demo",
                    *faults,
                    "--report-dir",
                    str(report),
                    "--json",
                    str(tmp_path / f"{name}.json"),
                    "--junit",
                    str(tmp_path / f"{name}.xml"),
                ],
                env=env,
                cwd=tmp_path,
            )
            assert proc.returncode == (0 if name == "pass" else 1), (
                proc.stdout[-3000:] + proc.stderr[-3000:]
            )
            outputs[f"{name} stdout"] = proc.stdout
            outputs[f"{name} stderr"] = proc.stderr
            outputs |= texts_under(report)
            outputs[f"{name} json"] = (tmp_path / f"{name}.json").read_text()
            outputs[f"{name} junit"] = (tmp_path / f"{name}.xml").read_text()
        slack_bodies = [json.dumps(r.body) + r.path for r in slack.requests]
    outputs |= {f"slack {i}": body for i, body in enumerate(slack_bodies)}
    outputs |= asyncio.run(prefect_records(prefect_server.api_url, env))

    # The channels were really exercised, so the check below can fail.
    assert any(key.endswith(".trace.zip!trace.trace") or ".trace.zip!" in key for key in outputs), (
        "no trace kept"
    )
    assert any(k.startswith("artifact smoke-report") for k in outputs), (
        "no report artifact read back"
    )
    assert any(k.startswith("log ") for k in outputs), "no Prefect log read back"
    assert slack_bodies, "the failing run posted nothing to Slack"
    assert "auth.password_login" in outputs["fail stdout"]

    leaks = [
        f"{name} in {where}"
        for where, text in outputs.items()
        for name, value in values.items()
        if value in text
    ]
    assert not leaks, leaks


def test_demo_with_a_fault_posts_one_slack_message_naming_the_check(
    prefect_server: Any, smoke_cli: Any, tmp_path: Path
) -> None:
    with FakeSlack() as slack:
        env = prefect_server.env(
            SMOKE_SLACK_TOKEN="xoxb-demo-token",
            SMOKE_SLACK_CHANNEL="#smoke",
            SMOKE_SLACK_API_URL=slack.api_url,
        )
        proc = smoke_cli(
            [
                "demo",
                "--fault",
                "dashboard.feed_500",
                "--journeys",
                "dashboard",
                "--report-dir",
                str(tmp_path),
            ],
            env=env,
            cwd=tmp_path,
        )
        messages = slack.messages()
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert len(messages) == 1, [m.text for m in messages]
    text = json.dumps(messages[0].body)
    assert "dashboard" in text
    assert "feed" in text
    assert "FAIL" in text
