"""Execute the numbered notebooks in place, in order.

Usage::

    python tools/run_notebooks.py [NOTEBOOK ...]

Without arguments it runs every ``notebooks/[0-9][0-9]_*.ipynb`` in name
order. Each notebook runs in a fresh ``python3`` kernel, with the folder that
contains it (``notebooks/``) as the working directory and a limit of 600
seconds per cell. It is written back with its new outputs only if every cell
succeeds. One line per notebook gives its run time, and a last line the
total.

The exit status is 1 at the first failure, and the message names the
notebook and the cell (index and first line). The notebook on disk is then
left as it was. The Azure traces are found through ``KVBOOK_DATA_DIR``,
which ``make reproduce`` sets when a local copy exists.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT = 600  # seconds


# Tracebacks from the kernel contain ANSI color codes, which clutter log files.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(text: str) -> str:
    """Remove ANSI color codes from kernel output."""
    return _ANSI_ESCAPE.sub("", text)


class NotebookFailure(Exception):
    """A cell of a notebook raised, timed out or killed the kernel."""

    def __init__(self, path: Path, index, cell, error: Exception):
        self.path, self.index, self.cell, self.error = path, index, cell, error
        first_line = cell.source.strip().splitlines()[0] if cell is not None else ""
        where = "before the first cell" if index is None else f"in cell {index}"
        if isinstance(error, CellExecutionError):
            reason = f"{error.ename}: {error.evalue}"
        else:
            lines = str(error).strip().splitlines()
            reason = f"{type(error).__name__}: {lines[-1] if lines else ''}"
        super().__init__(
            f"{path.name} failed {where} ({first_line!r}): {strip_ansi(reason)}"
        )


def run_notebook(path: Path) -> float:
    """Execute one notebook in place and return its run time in seconds.

    Raises
    ------
    NotebookFailure
        If a cell raises, exceeds ``CELL_TIMEOUT`` or kills the kernel.
    """
    notebook = nbformat.read(path, as_version=4)
    current: dict = {"index": None}

    def remember_cell(cell, cell_index, **kwargs):
        current["index"] = cell_index

    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=remember_cell,
    )
    started = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        index = current["index"]
        cell = notebook.cells[index] if index is not None else None
        raise NotebookFailure(path, index, cell, error) from error
    elapsed = time.perf_counter() - started
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Execute kvbook's numbered notebooks in place, in name order, with a "
            f"{CELL_TIMEOUT} s limit per cell."
        )
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="notebooks to run (default: every notebooks/[0-9][0-9]_*.ipynb)",
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"no notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    missing = [path for path in paths if not path.is_file()]
    if missing:
        print(f"notebook not found: {missing[0]}", file=sys.stderr)
        return 1

    total = 0.0
    for number, path in enumerate(paths, start=1):
        try:
            seconds = run_notebook(path.resolve())
        except NotebookFailure as failure:
            print(f"[{number}/{len(paths)}] FAILED: {failure}", file=sys.stderr)
            print(strip_ansi(str(failure.error)), file=sys.stderr)
            return 1
        total += seconds
        print(f"[{number}/{len(paths)}] {path.name}: {seconds:.1f} s", flush=True)
    print(f"all {len(paths)} notebooks ran in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
