"""Flow-run links come from Prefect's `url_for`: the configured UI, or none at all."""

from __future__ import annotations

from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

from tasks.slack import crashed_result

RUN_ID = "0b7c2e4a-5d1f-4c3e-9a8b-7f6e5d4c3b2a"


def _link() -> str | None:
    crashed = crashed_result(
        "staging", version=None, mode="gate", flow_run_id=RUN_ID, message="killed"
    )
    return crashed.flow_run_url


def test_no_link_without_a_prefect_ui_url() -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL, PREFECT_UI_URL}):
        assert _link() is None


def test_the_ui_url_follows_the_api_url_or_its_own_setting() -> None:
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4321/api"}):
        assert _link() == f"http://127.0.0.1:4321/runs/flow-run/{RUN_ID}"
    with temporary_settings(
        {PREFECT_API_URL: "http://10.0.0.5:4200/api", PREFECT_UI_URL: "https://prefect.example"}
    ):
        assert _link() == f"https://prefect.example/runs/flow-run/{RUN_ID}"
