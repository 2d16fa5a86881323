"""Keep freed memory in the process: glibc ``mallopt`` settings for jobs that churn model-sized tensors.

glibc's ``malloc`` serves a large block (above its mmap threshold, at most 32 MiB) with a fresh ``mmap`` and
unmaps it when freed, and it returns the top of its heap to the kernel when more than the trim threshold is
free. A job that allocates and frees model-sized temporaries every step (SSIUU's attribution, its shifted
parameters and second gradient; a fresh AdamW state per attack draw) then pays a page fault and a zeroed
page for every 4 KiB it touches, every step: the kernel time of an SSIUU step on SmolLM2-135M exceeded its
compute. With mmap off (``M_MMAP_MAX = 0``) and trimming off (``M_TRIM_THRESHOLD`` unbounded) freed blocks
stay in the heap and serve later blocks that fit in them; the resident set then stays at the job's peak until
it ends. Not every block fits: torch asks for 64-byte-aligned blocks, which glibc serves from a free block a
little larger than the request, so a freed block hemmed in by live small ones is too small for the next
block of its own size, and the heap grows instead. About half the page faults go (``benchmarks/allocator.py``
measures both ways side by side, faults included). The arithmetic is the same either way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

#: mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: the largest trim threshold mallopt accepts (it takes an int): the heap top is returned only past 2 GiB free
NEVER_TRIM = 2**31 - 1


def keep_freed_memory() -> bool:
    """Turn off glibc's mmap for large blocks and heap trimming in this process (see the module docstring).

    Returns whether the settings took effect: False where the C library is not glibc (macOS, musl), which is
    logged and otherwise harmless. Call it once, early; it affects allocations made afterwards."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        log.info("C library %s has no mallopt; freed memory is returned as usual", name)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) == 1
    if not ok:
        log.warning("mallopt refused the settings; freed memory is returned to the kernel as usual")
    return ok
