"""Make the Jupyter server process non-dumpable: the researcher's code cannot trace or read it."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def make_nondumpable() -> None:
    """Mark this process non-dumpable, so processes of the same uid cannot trace it.

    Kernels and terminals run as the same uid as the server. Without this, one of them
    could ptrace the server or write /proc/<pid>/mem and switch the data guard off; a
    non-dumpable process needs CAP_SYS_PTRACE for that, and user containers drop every
    capability. Children get the flag back at exec, so kernels behave as usual.
    """
    if not sys.platform.startswith("linux"):
        raise OSError(f"making the server non-dumpable needs Linux's prctl; this is {sys.platform}")
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "prctl(PR_SET_DUMPABLE, 0) failed")
    if libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_DUMPABLE, 0) did not take effect")
