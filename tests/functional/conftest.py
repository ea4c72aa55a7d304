"""Fixtures the functional tests share."""
from tests.functional.process_support import reaper  # noqa: F401 (a fixture, found here by name)
