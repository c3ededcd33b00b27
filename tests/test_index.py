"""index.html's scope line and "What to do this week", from the headlines the pages recorded."""

from __future__ import annotations

from mdcnb.report.index import actions, scope_text


def _page(name: str, *headlines: tuple[str, object, str]) -> dict:
    return {"name": name, "href": f"{name}.html", "title": name.replace("_", " "),
            "headlines": [{"measure": m, "value": v, "text": t, "label": m} for m, v, t in headlines]}


def test_actions_follow_the_recorded_figures_in_their_order_with_links():
    pages = [_page("40_cloudtrail", ("cloudtrail.siem_monthly_saving", 12.5, "USD 12.50 / month")),
             _page("10_secure_score", ("score.top_control", "Enable MFA (+17.57 pts)", "Enable MFA (+17.57 pts)")),
             _page("30_coverage", ("coverage.plans_off_with_resources", 0, "0"), ("readiness.failures", 3, "3"))]
    found = actions(pages)
    assert [a["href"] for a in found] == ["10_secure_score.html", "30_coverage.html", "40_cloudtrail.html"]
    assert found[0]["text"] == "Fix the control that raises the secure score most: Enable MFA (+17.57 pts)."
    assert found[1]["text"] == "Fix the 3 failing AWS onboarding checks."  # no gap in coverage: no action for it
    assert found[2]["text"] == "Filter CspmMonitorAws reads out of the SIEM to save USD 12.50 / month."


def test_no_action_when_nothing_calls_for_one():
    assert actions([_page("10_secure_score", ("score.top_control", "none", "none"))]) == []


def test_the_scope_reads_as_text():
    manifest = {"scope": {"tenant_id": "t-1", "subscriptions": 12}, "counts": {"subscriptions": 12,
                                                                               "securityconnectors": 8}}
    assert scope_text(manifest) == "tenant t-1 · 12 subscriptions · 8 AWS/GCP connectors"
    assert scope_text({}) == "scope not recorded"
