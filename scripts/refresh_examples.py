"""Re-run the self-check notebooks against the example machines and store their outputs.

The book shows these stored outputs; `make test` (nbval) proves they are still what the checks
produce. Run after changing a check's wording: .venv/bin/python scripts/refresh_examples.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {
    "lessons/selfcheck-laptop.ipynb": "sites/dsmlp/machines/laptop",
    "lessons/selfcheck-server.ipynb": "sites/dsmlp/machines/server",
}


def refresh(notebook: Path, machine: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    os.environ["SELFCHECK_MACHINE"] = str(machine)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, notebook)
    print(f"refreshed {notebook.relative_to(ROOT)} against {machine.relative_to(ROOT)}")


if __name__ == "__main__":
    for nb, machine in NOTEBOOKS.items():
        refresh(ROOT / nb, ROOT / machine)
    sys.exit(0)
