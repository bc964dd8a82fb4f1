"""The sandbox: a local staging double of the product the smoke flows test.

See README.md in this folder for the contract (paths, payloads, faults).
"""

from sandbox.credentials import SandboxCredentials
from sandbox.faults import FAULTS
from sandbox.runner import RunningSandbox, SandboxStartError, serve, start_sandbox

__all__ = [
    "FAULTS",
    "RunningSandbox",
    "SandboxCredentials",
    "SandboxStartError",
    "serve",
    "start_sandbox",
]
