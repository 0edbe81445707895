"""stylerecs.engine.allocator: freed memory is reused instead of page-faulted in again.

Each case runs in a fresh interpreter: the setting is process-wide, and the test
process must keep the allocator it started with.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stylerecs.engine.allocator import keep_freed_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

# A forward pass in miniature: five 64 MiB tensors (the size of one activation of VGG's
# first block at 512 px), each op writing a new one and freeing the one before. Prints
# the minor page faults of three passes after four warm-up passes (the heap takes a
# pass or two to settle).
PROBE = """
import json, resource, sys
import torch
if sys.argv[1] == "keep":
    from stylerecs.engine.allocator import keep_freed_memory
    assert keep_freed_memory()
def forward():
    x = torch.ones(16 << 20)
    for _ in range(4):
        x = x * 2
    return float(x[0])
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    forward()
before = faults()
for _ in range(3):
    forward()
print(json.dumps(faults() - before))
"""


def _faults(mode: str, repo_root) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, cwd=repo_root,
        check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_freed_blocks_are_reused_without_page_faults(repo_root):
    pages = 3 * 5 * (64 << 20) // 4096  # fifteen fresh 64 MiB tensors
    system = _faults("system", repo_root)
    kept = _faults("keep", repo_root)
    # glibc's default maps every 64 MiB tensor afresh; kept, freed blocks are reused.
    assert system > pages // 2
    assert kept < system // 10


def test_a_negative_threshold_is_refused():
    with pytest.raises(ValueError, match="trim_threshold"):
        keep_freed_memory(-1)
