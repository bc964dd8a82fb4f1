"""Where evidence lives in a storage block: keys per run and the URL a key resolves to.

Plain Python: ``tasks/evidence.py`` moves the bytes through a Prefect storage block.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from smoke.results import GateResult
from smoke.scrub import scrubber

RESULT_KEY = "result.json"


def evidence_key(run_id: str, file_name: str) -> str:
    """The storage key of one evidence file of a run: ``<run id>/<file name>``."""
    return f"{run_id}/{PurePosixPath(file_name).name}"


def result_key(run_id: str) -> str:
    """The storage key of a run's JSON result."""
    return f"{run_id}/{RESULT_KEY}"


def storage_url(basepath: str, key: str) -> str:
    """What ``key`` resolves to under a block's ``basepath``.

    A local folder gives a ``file://`` URL (it opens only on the machine that holds the
    folder); an fsspec URL (``s3://bucket/evidence``) gives that URL with the key appended.
    """
    base = basepath.rstrip("/")
    if "://" in base:
        return f"{base}/{key}"
    return PurePosixPath(base, key).as_uri() if base.startswith("/") else f"{base}/{key}"


def result_json(result: GateResult) -> str:
    """The stored JSON result: strings scrubbed, numbers and structure kept."""
    return json.dumps(scrubber.value(result.model_dump(mode="json")))


def parse_result_json(text: str | bytes) -> GateResult | None:
    """The GateResult in a stored result; None when it is not one."""
    try:
        return GateResult.model_validate(json.loads(text))
    except ValueError:
        return None
