"""Which paths of the machine a child may see: Python itself, the shared libraries
its extension modules load, a handful of device nodes, and (for ``--device cuda``)
the GPU's device nodes and driver libraries. Everything else stays outside the
child's root and outside its Landlock rules.
"""
from __future__ import annotations

import os
import re
import site
import sys
import sysconfig

# Read and written by every program; nothing in them belongs to anyone.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
# The system's shared libraries (libc, libffi, libssl... dlopen'ed when a stdlib module
# is first imported) and the loader's cache; no user data lives there.
SYSTEM = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/localtime")

_NVIDIA_NODE = re.compile(r"^nvidia(\d+|ctl|-uvm|-uvm-tools|-modeset)$|^nvidia-caps/nvidia-cap\d+$")
# Where driver and CUDA libraries are installed outside /usr/lib on common set-ups
# (NVIDIA container toolkit, CUDA toolkit, WSL). The torch wheel's own CUDA libraries
# live in site-packages and are exposed with it.
GPU_LIBRARY_DIRS = ("/usr/local/nvidia", "/usr/local/cuda", "/usr/lib/wsl", "/etc/OpenCL/vendors",
                    "/usr/share/nvidia", "/usr/share/glvnd")
# The driver reads its PCI devices and NUMA nodes from sysfs; its /proc entries come
# with the child's own /proc.
GPU_SYSFS = ("/sys/bus/pci", "/sys/devices", "/sys/module/nvidia")


def python_paths() -> list[str]:
    """The standard library and every site-packages folder of the running Python."""
    paths = sysconfig.get_paths()
    found = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    found += site.getsitepackages() + [site.getusersitepackages()]
    found += [p for p in sys.path if p.endswith("site-packages")]  # added by .pth files (another venv's packages)
    return sorted({os.path.realpath(p) for p in found if os.path.isdir(p)} | {p for p in found if os.path.isdir(p)})


def gpu_paths(dev_entries: list[str], exists=os.path.exists) -> tuple[list[str], list[str]]:
    """(device nodes, read-only folders) a CUDA child needs. ``dev_entries`` are names
    relative to /dev (``nvidia0``, ``nvidia-caps/nvidia-cap1``...), as listed from the
    machine; only NVIDIA's nodes are taken."""
    nodes = sorted(f"/dev/{e}" for e in dev_entries if _NVIDIA_NODE.match(e))
    folders = [p for p in GPU_LIBRARY_DIRS if exists(p)]
    if os.path.isdir("/usr/local"):
        folders += sorted(f"/usr/local/{d}" for d in os.listdir("/usr/local") if re.match(r"cuda-[\d.]+$", d))
    return nodes, folders + [p for p in GPU_SYSFS if exists(p)]


def list_dev() -> list[str]:
    """Names under /dev, one level into nvidia-caps."""
    try:
        entries = os.listdir("/dev")
    except OSError:
        return []
    if os.path.isdir("/dev/nvidia-caps"):
        entries += [f"nvidia-caps/{e}" for e in os.listdir("/dev/nvidia-caps")]
    return entries


def exposure(device: str, extra_read: list[str]) -> tuple[list[str], list[str]]:
    """(read-only paths, device nodes) for a child on ``device`` ("cpu" or "cuda")."""
    read = [*python_paths(), *SYSTEM, *extra_read]
    devices = list(DEVICES)
    if device == "cuda":
        nodes, folders = gpu_paths(list_dev())
        read += folders
        devices += nodes
    return sorted(set(read)), devices
