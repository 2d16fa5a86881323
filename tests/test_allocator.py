"""keep_freed_memory: a freed model-sized block is reused without page faults (glibc only)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from ssiuu.config import load_config

# Allocate, touch and free a 64 MiB tensor, then count the minor page faults of doing it again.
PROBE = """
import json, resource, sys
from ssiuu.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
import torch
def touch():
    t = torch.empty(16 * 2**20, dtype=torch.float32)
    t.fill_(1.0)
    del t
touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
touch()
print(json.dumps({"kept": kept, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def probe(setting: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, setting], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt settings are glibc's")
def test_freed_block_is_reused_without_page_faults() -> None:
    pages = 64 * 2**20 // 4096  # 16,384 pages of 4 KiB
    default = probe("default")
    kept = probe("keep")
    assert default["faults"] > pages // 2  # glibc unmaps the block and the kernel hands out fresh pages
    assert kept["kept"] is True
    assert kept["faults"] < pages // 100


def test_the_setting_is_on_by_default() -> None:
    assert load_config()["keep_freed_memory"] is True
    assert load_config(overrides={"keep_freed_memory": False})["keep_freed_memory"] is False
