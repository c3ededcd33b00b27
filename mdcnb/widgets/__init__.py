"""ipywidgets filter panels for JupyterLab, one per page: pick environments, scopes, severities, standards, accounts,
regions and dates, and every number, figure and table of the panel is recomputed and redrawn in place.

The panels read the page's snapshot, take their defaults from the notebook's papermill parameters and are
interactive-only: the report runs headless, where the notebooks show their full, parameter-filtered figures and the
panel cells are tagged `report-hide`. The generic panel is `panel.FilterPanel`; each page's explorer lives in the
module of its feature, and its headline numbers come from the measure registry.
"""

from mdcnb.widgets.cloudtrail import cloudtrail_explorer
from mdcnb.widgets.compliance import compliance_explorer
from mdcnb.widgets.coverage import coverage_explorer
from mdcnb.widgets.governance import governance_explorer
from mdcnb.widgets.history import summary_explorer
from mdcnb.widgets.score import score_explorer

__all__ = ["cloudtrail_explorer", "compliance_explorer", "coverage_explorer", "governance_explorer", "score_explorer",
           "summary_explorer"]
