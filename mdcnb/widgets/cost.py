"""The cost page's what-if panel (JupyterLab): change plan prices, switch plans on or off everywhere, pick a scenario,
and the totals are recomputed at once.

Headless report runs do not depend on it (its cell is tagged `report-hide`). `CostExplorer.recompute()` is the
callback every control triggers; it keeps the estimate it made in `result`, so it is testable without a browser.
"""

from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd
from IPython.display import display

from mdcnb.analysis import cost, cost_units
from mdcnb.sources.prices import PriceTable

SCENARIOS = ("as configured", "enable all", "Servers P2 to P1")
AS_SCENARIO = "scenario"  # a plan left as the scenario has it (not None: a Dropdown shows None as blank)
PLAN_CHOICES = (("as in the scenario", AS_SCENARIO), ("on everywhere", True), ("off everywhere", False))


class CostExplorer:
    """Price fields per plan and sub-plan, an on/off choice per plan, a scenario, and the totals they give. A change
    computes what it changes: the units are prepared for estimates once (`cost.Estimator`), and each scenario's
    settings are made the first time it is picked."""

    def __init__(self, units: pd.DataFrame, settings: pd.DataFrame, prices: PriceTable) -> None:
        self.units, self.settings, self.prices = units, settings, prices
        self.estimator = cost.Estimator(units)
        self._scenarios: dict[str, pd.DataFrame] = {}
        plans = sorted(set(units["plan"]))
        recurring = prices.rows[(prices.rows["kind"] == "recurring") & prices.rows["plan"].isin(plans)
                                & prices.rows["monthly_price"].notna()]
        self.scenario = w.Dropdown(options=SCENARIOS, value=SCENARIOS[0], description="Scenario")
        self.plan_choices = {plan: w.Dropdown(options=PLAN_CHOICES, value=AS_SCENARIO,
                                              description=cost_units.plan_display(plan),
                                              style={"description_width": "260px"}, layout=w.Layout(width="480px"))
                             for plan in plans}
        self.price_fields = {
            (r.plan, r.sub_plan): w.BoundedFloatText(value=round(float(r.monthly_price), 4), min=0, max=1e7, step=0.01,
                                                     description=f"{r.plan} {r.sub_plan}".strip(),
                                                     style={"description_width": "260px"},
                                                     layout=w.Layout(width="420px"))
            for r in recurring.itertuples(index=False)}
        self._table_prices = {key: prices.monthly_price(*key) or 0.0 for key in self.price_fields}
        self.output = w.HTML()
        for control in [self.scenario, *self.plan_choices.values(), *self.price_fields.values()]:
            control.observe(lambda _change: self.recompute(), names="value")
        self.result: cost.CostEstimate | None = None
        self.recompute()

    def current_prices(self) -> PriceTable:
        """The price table with every price field the user changed."""
        table = self.prices
        for (plan, sub_plan), field in self.price_fields.items():
            if abs(field.value - self._table_prices[plan, sub_plan]) > 1e-9:
                table = table.with_monthly_price(plan, sub_plan, field.value, "prices changed in the what-if panel")
        return table

    def scenario_settings(self, scenario: str) -> pd.DataFrame:
        """The plan settings of a scenario, made once per scenario."""
        if scenario not in self._scenarios:
            settings = self.settings
            if scenario == "enable all":
                settings = cost.enable_all(settings, self.units)
            elif scenario == "Servers P2 to P1":
                settings = cost.servers_p2_to_p1(settings)
            self._scenarios[scenario] = settings
        return self._scenarios[scenario]

    def current_settings(self) -> pd.DataFrame:
        """The scenario's plan settings with the on/off choices applied."""
        settings = self.scenario_settings(self.scenario.value)
        choices = {plan: box.value for plan, box in self.plan_choices.items() if box.value != AS_SCENARIO}
        return cost_units.choose_plans(settings, self.units, choices) if choices else settings

    def recompute(self) -> cost.CostEstimate:
        prices = self.current_prices()
        self.result = self.estimator.estimate(self.current_settings(), prices, self.scenario.value)
        by_plan = self.result.by_plan()
        by_plan = by_plan[by_plan["monthly_cost"] > 0][["display", "units", "monthly_cost"]]
        self.output.value = (
            f"<p><b>Monthly total ({html.escape(self.scenario.value)}): {self.result.monthly_total:,.2f} "
            f"{html.escape(prices.currency)}</b><br><small>{html.escape(prices.label)}</small></p>"
            + by_plan.to_html(index=False, escape=True, border=0, float_format=lambda v: f"{v:,.2f}"))
        return self.result

    def widget(self) -> w.Widget:
        return w.VBox([self.scenario, w.HBox([w.VBox(list(self.plan_choices.values())),
                                              w.VBox(list(self.price_fields.values()))]), self.output])

    def show(self) -> None:
        display(self.widget())
