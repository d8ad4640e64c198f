"""A local, standalone Infobip People API (no Django needed): see README.md in this folder."""

from infobip.sandbox.faults import FaultConfig, FaultInjector
from infobip.sandbox.server import ResponseRecorder, SandboxServer
from infobip.sandbox.store import Store, StoreOptions

__all__ = ["FaultConfig", "FaultInjector", "ResponseRecorder", "SandboxServer", "Store", "StoreOptions"]
