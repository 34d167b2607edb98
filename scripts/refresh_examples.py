"""Re-run the self-check notebooks against the example machines and store their outputs.

The book shows these stored outputs; `make test` (nbval) proves they are still what the checks
produce. They are made on the machines of the course's site (`sites/<site>/machines/`), and the
notebook records which site (metadata `selfcheck.example_site`): a book built for another site
runs the notebooks on its own machines (book/_ext/selfcheck_site.py).
Run after changing a check's wording: .venv/bin/python scripts/refresh_examples.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NOTEBOOKS = {"lessons/selfcheck-laptop.ipynb": "laptop", "lessons/selfcheck-server.ipynb": "server"}


def refresh(notebook: Path, site: str, machine: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    os.environ["SELFCHECK_MACHINE"] = str(machine)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata["selfcheck"] = {"example_site": site}
    nbformat.write(nb, notebook)
    print(f"refreshed {notebook.relative_to(ROOT)} against {machine.relative_to(ROOT)}")


if __name__ == "__main__":
    from checks.course import setting

    chosen = setting().site
    for nb, machine in NOTEBOOKS.items():
        refresh(ROOT / nb, chosen, ROOT / "sites" / chosen / "machines" / machine)
    sys.exit(0)
