"""A loopback fake of the Allen Brain Atlas API and download server, for tests.

``FakeAllen`` (``server.py``) serves the formats of ``docs/allen-api.md`` from the embedded
resources plus clearly GENERATED stand-ins (``data.py``), with fault injection; pytest
fixtures are in ``fixtures.py``.
"""
from tests.fake_allen.data import FakeAllenData
from tests.fake_allen.server import FAULTS, Fault, FakeAllen, Request

__all__ = ["FAULTS", "Fault", "FakeAllen", "FakeAllenData", "Request"]
