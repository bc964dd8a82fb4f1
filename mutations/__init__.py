"""Code-level mutations of the sandbox, run one at a time through the release gate.

``mutations.catalogue`` holds the list (plain data, no Prefect); ``python -m mutations.run``
applies each to a copy of the repository and records which check caught it.
"""
