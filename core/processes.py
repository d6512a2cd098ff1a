"""Child processes that never outlive the process that started them."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from pathlib import Path

_PR_SET_PDEATHSIG = 1

# The pid of the process that is forking right now (set just before each fork, read in the child).
_forking_pid = 0


def die_with_parent(*, parent_pid: int | None = None, sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `sig` to this (child) process when its parent dies; runs right after fork.

    With `parent_pid`, a parent that died before the request was made is noticed too: the child then
    signals itself at once instead of running on as an orphan.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def forked_children_die_with_this_process(*, sig: int = signal.SIGTERM) -> None:
    """From now on every child this process forks (os.fork, multiprocessing) gets `sig` when this process dies.

    The kernel ties the request to the thread that forked, so fork from a thread that lives as long as
    the process (RQ's work-horse and scheduler are forked from the worker's main thread).
    """

    def before_fork() -> None:
        global _forking_pid
        _forking_pid = os.getpid()

    os.register_at_fork(before=before_fork, after_in_child=lambda: die_with_parent(parent_pid=_forking_pid, sig=sig))


def pid_namespace() -> str:
    """Which pids this process can see: the machine's boot and its pid namespace ("" where unknown).

    Two processes with the same value can check each other's pids; a container or another machine cannot.
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists on this machine (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
