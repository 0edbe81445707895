"""Settings of the fault-injection tests' worker: the demo host's, plus what the test
asks for through the environment (stylerecs settings, a storage that fails on demand,
its own media folder)."""

import json
import os

from shop.settings import *  # noqa: F403
from shop.settings import STORAGES, STYLERECS

# No responsive renditions: their tasks would run between the stylizing tasks these
# tests interrupt (and write files while a test arms a failing write).
STYLERECS = {
    **STYLERECS,
    "RENDITIONS_ENABLED": False,
    **json.loads(os.environ.get("STYLERECS_TEST_OVERRIDES", "{}")),
}
if os.environ.get("STYLERECS_TEST_FAULT_FILE"):
    STORAGES = {**STORAGES, "default": {"BACKEND": "tests.integration.faults.HalfWriteStorage"}}
if os.environ.get("STYLERECS_TEST_MEDIA_ROOT"):
    MEDIA_ROOT = os.environ["STYLERECS_TEST_MEDIA_ROOT"]
