"""Progress bars on long work (tqdm): the report's notebooks, the CloudTrail scan, the Azure pull.

A bar is drawn on stderr only when stderr is a terminal, so CI logs and piped output stay clean, and never while
`quiet()` is on (`mdcnb --quiet`, or `--quiet` after any command). Kernels run by the report have no terminal:
their scans draw nothing into the notebooks.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tqdm loads with the first bar: `mdcnb --help` imports this module
    from tqdm import tqdm

_quiet = False


@contextmanager
def quiet(on: bool = True) -> Iterator[None]:
    """No bar while inside (restored after, so one in-process command does not silence the next)."""
    global _quiet
    before, _quiet = _quiet, on
    try:
        yield
    finally:
        _quiet = before


def drawn(wanted: bool | None = None) -> bool:
    """Whether a bar is drawn: not quiet, and `wanted`, where None means "stderr is a terminal"."""
    if _quiet:
        return False
    if wanted is None:
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty())
    return wanted


def bar(desc: str, *, total: float | None = None, unit: str = "it", unit_scale: bool = False,
        wanted: bool | None = None) -> tqdm:
    """A bar on stderr that clears itself when closed (the command's own output is what stays)."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the scan forks worker processes while a bar is open
    return tqdm(desc=desc, total=total, unit=unit, unit_scale=unit_scale, file=sys.stderr, leave=False,
                dynamic_ncols=True, disable=not drawn(wanted))
