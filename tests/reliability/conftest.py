"""One Prefect test harness and one sandbox for the soak."""

from tests.support.gate_fixtures import (  # noqa: F401  (fixtures)
    fault,
    prefect,
    run_gate,
    sandbox,
    sandbox_env,
)
