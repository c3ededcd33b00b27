"""The kernels `mdcnb report` executes its notebooks in: one per stage-2 thread, kept for every notebook it runs.

Starting a kernel, importing mdcnb in it and reading the week's snapshot took most of a notebook's time at 2,000
subscriptions (about 40 of 55 s), so a thread keeps its kernel: between two notebooks the kernel is reset to what a
new one would be for the notebook (empty namespace, no output history, execution count 1, no widget open), and the
snapshot stays read: the kernel runs with `snapshot.stored.SHARED_ENV` set, so `snapshot.read` gives back the
snapshot it read before, once it has checked every file again. A kernel that died, or could not be reset, is
replaced by a new one.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from traitlets.config import Config

from mdcnb.snapshot.stored import SHARED_ENV, forget_computed

START_TIMEOUT_S = 120
RESET_TIMEOUT_S = 120
# glibc: every block of 1 MB or more is mapped on its own and returned to the system when freed. By default the
# threshold rises to the largest block freed so far, after which a million-row column's arrays (8.8 MB) come from
# the heap and stay resident when freed: a kernel held 100-150 MB more through each notebook at 2,000 subscriptions
# (the sum of two kernels is the report's peak), for about 10% more CPU. A value set by the user is kept.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(2**20)}
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)

# What the kernel runs, quietly, before a notebook (the first time: only the imports every notebook starts with).
IMPORTS = "import mdcnb.report.page, mdcnb.widgets, mdcnb.figures"
RESET = """\
def _mdcnb_reset():
    import sys
    from mdcnb.report.kernels import release_memory
    if "ipywidgets" in sys.modules:
        sys.modules["ipywidgets"].Widget.close_all()
    get_ipython().reset(new_session=True)
    release_memory()
_mdcnb_reset()
"""


def release_memory() -> None:
    """In a kernel between two notebooks: forget what the last one computed from the kept snapshot, collect it,
    and give the freed heap back to the system (glibc keeps it otherwise: two kernels each held 1.1-1.4 GB at the
    end of a report at 2,000 subscriptions, for 0.7 GB of tables)."""
    forget_computed()
    gc.collect()
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


def one_heap() -> None:
    """glibc: the threads of this process allocate from the main heap (mallopt M_ARENA_MAX = 1) rather than from an
    arena of their own each, which held what a notebook's outputs and page took: the report's process, whose
    threads drive the kernels, peaked 45 MB lower at 2,000 subscriptions. A MALLOC_ARENA_MAX the user set is kept."""
    mallopt = _glibc("mallopt")
    if mallopt is not None and "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(M_ARENA_MAX, 1)


def _glibc(name: str):
    """The C library's function `name` on Linux (glibc's malloc tuning), else None."""
    return getattr(ctypes.CDLL(None), name, None) if sys.platform.startswith("linux") else None


class _Manager(AsyncKernelManager):
    """A kernel manager that remembers the clients it gave, so that they can be closed: papermill leaves the
    client open when it did not start the kernel itself."""

    def client(self, **kwargs: Any):  # type: ignore[override]
        client = super().client(**kwargs)
        self.__dict__.setdefault("_mdcnb_clients", []).append(client)
        return client

    def close_clients(self) -> None:
        for client in self.__dict__.pop("_mdcnb_clients", []):
            client.stop_channels()


def transport(directory: str) -> Config:
    """The kernel talks over Unix sockets in `directory` (IPC): no network port is opened, so ipykernel has no
    unencrypted TCP to warn about. Windows has no IPC transport and keeps TCP on the loopback interface.
    The connection file is named here because an IPC kernel without one puts its sockets in the current folder."""
    if os.name == "nt":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "connection_file": os.path.join(directory, "kernel.json")}})


class Kernel:
    """One stage-2 thread's kernel, started on first use and kept across notebooks. Use from one thread only (its event
    loop is that thread's)."""

    def __init__(self, kernel_name: str, kernel_dirs: list[str], cwd: Path) -> None:
        self.kernel_name, self.kernel_dirs, self.cwd = kernel_name, kernel_dirs, cwd
        self._manager: _Manager | None = None
        self._sockets: tempfile.TemporaryDirectory | None = None
        self._used = False

    def manager(self) -> AsyncKernelManager:
        """The kernel, ready for a notebook: fresh after a notebook ran in it, started (again) when it is not
        running or could not be reset."""
        if self._manager is not None and not self._ready():
            self.close()
        if self._manager is None:
            self._start()
        self._used = True
        return self._manager

    def notebook_done(self) -> None:
        """Close the client a notebook ran through (the kernel stays)."""
        if self._manager is not None:
            self._manager.close_clients()

    def close(self) -> None:
        """Shut the kernel down and remove its sockets."""
        manager, sockets, self._manager, self._sockets = self._manager, self._sockets, None, None
        if manager is not None:
            manager.close_clients()
            try:
                run_sync(manager.shutdown_kernel)(now=False)
            except Exception:  # already gone: nothing left to stop
                run_sync(manager.cleanup_resources)()
        if sockets is not None:
            sockets.cleanup()

    def _start(self) -> None:
        self._sockets = tempfile.TemporaryDirectory(prefix="mdcnb-k-")
        self._manager = _Manager(kernel_name=self.kernel_name, config=transport(self._sockets.name),
                                 kernel_spec_manager=KernelSpecManager(kernel_dirs=self.kernel_dirs))
        run_sync(self._manager.start_kernel)(cwd=str(self.cwd), env={**MALLOC_ENV, **os.environ, SHARED_ENV: "1"},
                                             extra_arguments=["--HistoryManager.hist_file=:memory:"])
        self._used = False
        self._run(IMPORTS)

    def _ready(self) -> bool:
        """Whether the kernel is alive and, when a notebook ran in it, could be reset."""
        try:
            return bool(run_sync(self._manager.is_alive)()) and (not self._used or self._run(RESET))
        except Exception:  # a kernel that does not answer is replaced
            return False

    def _run(self, code: str) -> bool:
        """Run `code` quietly in the kernel; whether it ran without error."""
        async def run() -> bool:
            client = self._manager.client()
            client.start_channels()
            try:
                await client.wait_for_ready(timeout=START_TIMEOUT_S)
                reply = await client.execute_interactive(code, silent=True, store_history=False,
                                                         timeout=RESET_TIMEOUT_S, output_hook=lambda _: None)
            finally:
                self._manager.close_clients()
            return reply["content"]["status"] == "ok"

        ok = run_sync(run)()
        if not ok:
            print(f"mdcnb report: a kernel could not run {code.splitlines()[0]!r}; it is replaced", file=sys.stderr)
        return ok
