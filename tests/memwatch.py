"""How much the test process's resident memory grows during a block, from /proc/self/status."""
from __future__ import annotations

import contextlib
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@contextlib.contextmanager
def peak_growth_mib():
    """``with peak_growth_mib() as grew: ...; grew()`` -> MiB the peak resident size
    rose above the resident size at entry (the peak is reset on entry)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    start = _status_kib("VmRSS")
    yield lambda: (_status_kib("VmHWM") - start) / 1024
