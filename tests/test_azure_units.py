"""Small pure pieces of the Azure source: cloud table, quota header parsing, the quota gate, secret scrubbing."""

from __future__ import annotations

import pytest

from mdcnb.sources.azure_clouds import cloud_by_name
from mdcnb.sources.azure_http import CallStats, QuotaGate, parse_resets_after, scrub
from mdcnb.sources.azure_queries import EXEMPTIONS, RESOURCES, SECURITY, SUBSCRIPTIONS


def test_sovereign_clouds_by_name():
    gov = cloud_by_name("azureusgovernment")
    assert (gov.arm_endpoint, gov.authority_host, gov.token_scope) == (
        "https://management.usgovcloudapi.net", "login.microsoftonline.us",
        "https://management.usgovcloudapi.net/.default")
    assert cloud_by_name("AzureChinaCloud").token_scope == "https://management.chinacloudapi.cn/.default"
    assert cloud_by_name("AzureCloud").authority_host == "login.microsoftonline.com"
    with pytest.raises(ValueError, match="AzureUSGovernment"):
        cloud_by_name("AzureGermanCloud")


@pytest.mark.parametrize(("text", "seconds"), [("00:00:03", 3), ("00:01:02.5", 62.5), ("01:00:00", 3600),
                                               ("garbage", 1.0), ("", 1.0)])
def test_quota_reset_header(text, seconds):
    assert parse_resets_after(text) == seconds


def test_quota_gate_closes_at_the_reserve_and_waits_for_the_reset():
    slept: list[float] = []
    gate = QuotaGate(reserve=2, stats=CallStats(), sleep=slept.append)
    gate.update({"x-ms-user-quota-remaining": "3", "x-ms-user-quota-resets-after": "00:00:04"})
    gate.wait()
    assert slept == []
    gate.update({"x-ms-user-quota-remaining": "2", "x-ms-user-quota-resets-after": "00:00:04"})
    gate._sleep = lambda s: (slept.append(s), setattr(gate, "_open_at", 0.0))
    gate.wait()
    assert len(slept) == 1 and 3.9 < slept[0] <= 4.0
    assert gate.stats.quota_waits == 1


def test_scrub_removes_bearer_tokens_and_secret_values(monkeypatch):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cr3t-value")
    text = scrub("Authorization: Bearer eyJhbGciOi.abc-def_123 failed with s3cr3t-value")
    assert "eyJhbGciOi" not in text and "s3cr3t-value" not in text and "Bearer <redacted>" in text


def test_queries_cover_every_record_type_once():
    routed = [*SUBSCRIPTIONS.types.values(), *SECURITY.types.values(), *RESOURCES.types.values(),
              *EXEMPTIONS.types.values()]
    assert set(routed) == {"subscriptions", "assessments", "governanceassignments", "pricings", "securescores",
                           "securescorecontrols", "regulatorycompliancestandards", "regulatorycompliancecontrols",
                           "regulatorycomplianceassessments", "securityconnectors", "resources", "policyexemptions"}
    assert SUBSCRIPTIONS.kql == "resourcecontainers | where type =~ 'microsoft.resources/subscriptions'"
    assert SECURITY.kql.startswith("securityresources | where type in~ ('microsoft.security/assessments', ")
