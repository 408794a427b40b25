"""Progress bars for long native jobs, and what ``progress=`` means.

Long jobs (:func:`pets.risk.assess`, :func:`pets.anonymise`, :meth:`pets.synth.MST.fit`,
sampling) report their stages and counts from Rust to a callback built here, which drives a
`tqdm <https://tqdm.github.io>`_ bar (``tqdm.auto``: a widget in Jupyter, text in a
terminal). ``progress=None`` (the default) shows a bar when tqdm is installed and standard
error is a terminal or a notebook; ``False`` never; ``True`` always (tqdm needed).

Ctrl-C (or Jupyter's interrupt) works with or without a bar: the job stops at its next safe
point, writes nothing, and ``KeyboardInterrupt`` is raised.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pets.errors import InvalidParameterError


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()  # type: ignore[attr-defined]
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _wanted(progress: bool | None) -> bool:
    if progress is None:
        try:
            import tqdm
        except ImportError:
            return False
        stderr = getattr(sys, "stderr", None)
        return _in_notebook() or bool(stderr is not None and stderr.isatty())
    if not isinstance(progress, bool):
        raise InvalidParameterError(
            f"progress must be True, False or None (automatic), not {progress!r}"
        )
    if progress:
        try:
            import tqdm  # noqa: F401
        except ImportError as e:
            raise InvalidParameterError(
                "progress=True needs the tqdm package: pip install tqdm"
            ) from e
    return progress


class _Bars:
    """The callback the native job calls: one tqdm bar per stage."""

    def __init__(self, what: str) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._what = what
        self._bar: Any = None

    def __call__(self, event: str, *args: Any) -> None:
        if event == "stage":
            name, total, unit = args
            self.close()
            self._bar = self._tqdm(
                total=total,
                unit=f" {unit}",
                unit_scale=True,
                desc=f"{self._what}: {name}",
                leave=False,
            )
        elif event == "update" and self._bar is not None:
            (done,) = args
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextmanager
def bars(progress: bool | None, what: str) -> Iterator[_Bars | None]:
    """The callback to pass to a native job (``None``: no bar), closed when the job ends."""
    callback = _Bars(what) if _wanted(progress) else None
    try:
        yield callback
    finally:
        if callback is not None:
            callback.close()
