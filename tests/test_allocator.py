"""keep_freed_memory: a freed model-sized block stays in the process and serves a later block (glibc only)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from ssiuu.config import load_config

# Free a touched 64 MiB tensor (resident pages given back?), then touch a 32 MiB one (minor page faults?).
# A smaller second block fits the freed one wherever it lies; a same-sized one need not, since torch asks
# glibc for 64-byte-aligned blocks, which take a little more than the block itself.
PROBE = """
import json, resource, sys
from ssiuu.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
import torch
def resident_pages():
    return int(open("/proc/self/statm").read().split()[1])
block = torch.empty(16 * 2**20, dtype=torch.float32)
block.fill_(1.0)
before = resident_pages()
del block
returned = before - resident_pages()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
half = torch.empty(8 * 2**20, dtype=torch.float32)
half.fill_(1.0)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"kept": kept, "returned": returned, "faults": faults}))
"""


def probe(setting: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, setting], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not sys.platform.startswith("linux"),
    reason="mallopt settings are glibc's; /proc/self/statm is Linux's",
)
def test_freed_block_stays_resident_and_serves_the_next_block_without_page_faults() -> None:
    pages = 64 * 2**20 // 4096  # 16,384 pages of 4 KiB
    default = probe("default")
    kept = probe("keep")
    # glibc unmaps the freed block, and the next one is a fresh mapping faulted in page by page
    assert default["returned"] > pages * 9 // 10
    assert default["faults"] > pages // 2 * 9 // 10
    assert kept["kept"] is True
    assert kept["returned"] < pages // 100
    assert kept["faults"] < pages // 100


def test_the_setting_is_on_by_default() -> None:
    assert load_config()["keep_freed_memory"] is True
    assert load_config(overrides={"keep_freed_memory": False})["keep_freed_memory"] is False
