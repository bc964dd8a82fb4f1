"""The local Slack itself: what it accepts, refuses and records."""

from __future__ import annotations

import json as jsonlib

import httpx
import pytest

from tests.support.slack_server import FakeSlack


def post(
    slack: FakeSlack,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    json: object = None,
    data: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.post(slack.url + path, headers=headers, json=json, data=data, timeout=5)


def test_form_and_json_bodies_are_parsed_and_recorded(slack: FakeSlack) -> None:
    auth = {"Authorization": "Bearer xoxb-1"}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    form = post(
        slack,
        "/api/chat.postMessage",
        headers=auth,
        data={"channel": "#a", "text": "form", "blocks": jsonlib.dumps(blocks)},
    )
    as_json = post(
        slack, "/api/chat.postMessage", headers=auth, json={"channel": "#b", "text": "j"}
    )
    assert form.json()["ok"]
    assert form.json()["channel"] == "#a"
    assert as_json.json()["ts"] != form.json()["ts"]
    assert [r.body.get("channel") for r in slack.messages()] == ["#a", "#b"]
    assert slack.requests[0].body["blocks"] == blocks
    assert slack.requests[0].headers["authorization"] == "Bearer xoxb-1"


@pytest.mark.parametrize(
    ("headers", "body", "error"),
    [
        ({}, {"channel": "#a", "text": "x"}, "not_authed"),
        ({"Authorization": "Bearer xoxp-user"}, {"channel": "#a", "text": "x"}, "invalid_auth"),
        ({"Authorization": "Bearer xoxb-1"}, {"text": "x"}, "channel_not_found"),
        ({"Authorization": "Bearer xoxb-1"}, {"channel": "#a"}, "no_text"),
    ],
)
def test_refusals_look_like_slack(
    slack: FakeSlack, headers: dict[str, str], body: dict[str, str], error: str
) -> None:
    reply = post(slack, "/api/chat.postMessage", headers=headers, json=body)
    assert (reply.status_code, reply.json()) == (200, {"ok": False, "error": error})
    assert slack.messages() == []
    assert len(slack.requests) == 1


def test_failure_modes_apply_to_the_next_requests_only(slack: FakeSlack) -> None:
    slack.rate_limit(1, retry_after=7)
    slack.fail(1)
    hook = slack.webhook_url()
    limited = httpx.post(hook, json={"text": "a"})
    failed = httpx.post(hook, json={"text": "b"})
    fine = httpx.post(hook, json={"text": "c"})
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert failed.status_code == 500
    assert (fine.status_code, fine.text) == (200, "ok")
    assert [r.text for r in slack.messages()] == ["c"]


def test_stop_listening_refuses_connections_until_started_again(slack: FakeSlack) -> None:
    slack.stop_listening()
    with pytest.raises(httpx.ConnectError):
        httpx.post(slack.webhook_url(), json={"text": "a"})
    slack.start()
    assert httpx.post(slack.webhook_url(), json={"text": "a"}).text == "ok"
