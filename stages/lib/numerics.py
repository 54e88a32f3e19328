"""Pin CPU float code paths so models build byte-identically on any x86-64 CPU.

PyTorch picks kernels by CPU (AVX2 or AVX-512), and so do MKL (matrix
products) and oneDNN; each path rounds differently, so the tiny base model,
and everything trained or scored with it, differed between machines. Before
torch is imported (this runs from `stages/__init__.py`), we pin all three to
AVX2, which every x86-64 CPU of the last decade has: `ATEN_CPU_CAPABILITY`,
`MKL_CBWR` (MKL's conditional numerical reproducibility) and
`ONEDNN_MAX_CPU_ISA`. A value already in the environment wins, so
`ATEN_CPU_CAPABILITY=default` (or unsetting the pin for speed) is one variable
away. Thread count is pinned by the stages themselves (`threads` params).
"""

from __future__ import annotations

import os
import platform

PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def pin_cpu_numerics() -> None:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return
    for name, value in PINS.items():
        os.environ.setdefault(name, value)
