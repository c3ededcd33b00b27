"""The cost page's figure builders plot the tables they are given, and name the price table."""

from cost_estate import estate, hand_prices

from mdcnb.analysis import cost
from mdcnb.figures import cost as cost_figures


def test_figures_plot_the_tables_they_are_given():
    result = cost.scenarios(estate(), hand_prices(), exclude_tag="env", exclude_value="dev")
    label = result.configured.prices.label
    compare = cost.compare(result.configured, result.enable_all)
    fig = cost_figures.plan_costs(compare, label, "USD")
    configured = dict(zip(fig.data[0].y, fig.data[0].x, strict=True))
    assert configured["Defender for Containers"] == 56.0 and label in fig.layout.title.text
    table = cost.scenario_table(result)
    assert table["monthly_total"].tolist() == [121.0, 431.25, 101.0, 96.0]
    bars = cost_figures.scenario_totals(table, label, "USD")
    assert list(bars.data[0].y) == [121.0, 431.25, 101.0, 96.0]
