"""Suite-wide settings, applied before Prefect is imported anywhere.

Prefect keeps its state under a throw-away PREFECT_HOME, talks to no telemetry
service, and keeps its console quiet (logs still reach its API).
"""

from __future__ import annotations

import os
import tempfile

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="smoke-tests-prefect-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL", "CRITICAL")
_KEEP = {"SMOKE_UPDATE_SNAPSHOTS"}  # a switch for the tests themselves, not a setting
# The test harness's temporary server on SQLite: the services that turn events into
# task-run rows contend with every API write for the database lock (a gate took twice
# as long); no test reads task runs or events from the harness.
for _service in ("TASK_RUN_RECORDER", "EVENT_PERSISTER", "TRIGGERS"):
    os.environ.setdefault(f"PREFECT_SERVER_SERVICES_{_service}_ENABLED", "false")
for _name in [n for n in os.environ if n.startswith(("SMOKE_", "PREFECT_API_")) and n not in _KEEP]:
    # A developer's real environment must never be what a test talks to.
    del os.environ[_name]
