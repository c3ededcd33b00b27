"""The weekly report: notebook execution (`runner`), HTML pages (`export`), index.html (`index`), the helpers
notebooks call to show and export results (`page`), and the nbval golden copies (`golden`)."""

from pathlib import Path

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
