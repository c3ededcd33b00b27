"""The weekly report: notebook execution (`runner`), HTML pages (`export`), index.html (`index`), the helpers
notebooks call to show and export results (`page`), and the nbval golden copies (`golden`)."""

import sys

from mdcnb.core.package_data import notebooks_dir

# jsonschema imports its optional `rfc3987_syntax` IRI checker eagerly, and that builds a grammar (about 2 s of CPU)
# in every process importing nbformat: papermill, nbconvert, and each kernel through plotly's renderers. Notebooks
# never validate IRIs, so processes using mdcnb.report (the runner, and kernels through the page helpers) skip it.
sys.modules.setdefault("rfc3987_syntax", None)

NOTEBOOKS_DIR = notebooks_dir()
