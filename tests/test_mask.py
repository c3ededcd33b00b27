"""Id masking: stable, keyed, idempotent pseudonyms for subscription, tenant and AWS account ids."""

from __future__ import annotations

import hashlib
import hmac
import stat

import pandas as pd
import plotly.graph_objects as go
import pytest
from report_notebooks import ACCOUNT, ASSESSMENT_KEY, SUBSCRIPTION, TENANT, write_dataset

from mdcnb.sources.dataset import read_records
from mdcnb.sources.dataset_write import write_records
from mdcnb.tables.mask import KEY_ENV, Masker, mask_key

KEY = b"test-key"


def expected(kind: str, value: str, key: bytes = KEY) -> str:
    """The pseudonym computed independently: kind + first 10 hex digits of HMAC-SHA256(key, lower-cased id)."""
    return f"{kind}-" + hmac.new(key, value.lower().encode(), hashlib.sha256).hexdigest()[:10]


@pytest.fixture
def masker(tmp_path) -> Masker:
    return Masker.for_dataset(write_dataset(tmp_path / "ds"), key=KEY)


def test_learns_ids_from_the_dataset(masker):
    assert masker.known == {SUBSCRIPTION: "sub", TENANT: "tenant"}


def test_learns_the_same_ids_from_gzipped_record_files(tmp_path):
    dataset = write_dataset(tmp_path / "ds")
    for record_type in ("subscriptions", "securityconnectors", "securescores", "pricings"):
        records = read_records(dataset, record_type).records
        if records:
            write_records(dataset, record_type, records, compress=True)
    assert list(dataset.glob("*.jsonl.gz")) and not list(dataset.glob("*.jsonl"))
    assert Masker.for_dataset(dataset, key=KEY).known == {SUBSCRIPTION: "sub", TENANT: "tenant"}


def test_masks_known_ids_in_any_case_and_context(masker):
    text = f"sub {SUBSCRIPTION.upper()} tenant={TENANT} path /subscriptions/{SUBSCRIPTION}/resourceGroups/rg"
    masked = masker.text(text)
    sub, tenant = expected("sub", SUBSCRIPTION), expected("tenant", TENANT)
    assert masked == f"sub {sub} tenant={tenant} path /subscriptions/{sub}/resourceGroups/rg"


def test_masks_aws_accounts_found_in_arns_even_when_unlisted(masker):
    arn = f"arn:aws:iam::{ACCOUNT}:role/CspmMonitorAws and again {ACCOUNT}"
    aws = expected("aws", ACCOUNT)
    assert masker.text(arn) == f"arn:aws:iam::{aws}:role/CspmMonitorAws and again {aws}"


def test_leaves_other_guids_and_numbers_alone(masker):
    text = f"assessment {ASSESSMENT_KEY}, 1234567890123 bytes, account 999999999999"
    assert masker.text(text) == text


def test_is_idempotent_and_stable_across_instances(masker, tmp_path):
    once = masker.text(f"/subscriptions/{SUBSCRIPTION} arn:aws:s3:::b arn:aws:iam::{ACCOUNT}:root")
    assert masker.text(once) == once
    other = Masker.for_dataset(tmp_path / "ds", key=KEY)
    assert other.text(f"/subscriptions/{SUBSCRIPTION}") == f"/subscriptions/{expected('sub', SUBSCRIPTION)}"
    different_key = Masker.for_dataset(tmp_path / "ds", key=b"another")
    assert different_key.text(SUBSCRIPTION) == expected("sub", SUBSCRIPTION, b"another") != masker.text(SUBSCRIPTION)


def test_masks_frames_lists_and_dicts_without_touching_numbers(masker):
    df = pd.DataFrame({"subscription_id": pd.Series([SUBSCRIPTION, None], dtype="string"),
                       "ids": [[TENANT], []], "props": [{"tenantId": TENANT}, None], "n": [1, 2]})
    out = masker.frame(df)
    assert out["subscription_id"].tolist()[0] == expected("sub", SUBSCRIPTION)
    assert out["subscription_id"].isna().tolist() == [False, True]
    assert out["subscription_id"].dtype == df["subscription_id"].dtype
    assert out["ids"].tolist() == [[expected("tenant", TENANT)], []]
    assert out["props"].tolist()[0] == {"tenantId": expected("tenant", TENANT)}
    assert out["n"].tolist() == [1, 2]
    assert df["subscription_id"].tolist()[0] == SUBSCRIPTION  # the input is not changed


def test_masks_figures(masker):
    fig = go.Figure(go.Bar(x=[SUBSCRIPTION], y=[3], hovertext=[f"arn:aws:iam::{ACCOUNT}:root"]))
    out = masker.figure(fig).to_json()
    assert SUBSCRIPTION not in out and ACCOUNT not in out
    assert expected("sub", SUBSCRIPTION) in out and expected("aws", ACCOUNT) in out


def test_key_from_environment_or_private_file(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "from-env")
    assert mask_key() == b"from-env"
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    first = mask_key()
    assert first == mask_key() and len(first) == 64
    (key_file,) = (tmp_path / "config").rglob("mask.key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_masks_ids_inside_json_escaped_text(masker):
    """plotly's JSON (and so every report page) writes `/` as `\\u002f`."""
    text = f'"\\u002fsubscriptions\\u002f{SUBSCRIPTION}\\u002fx" "\\u003c{TENANT}\\u003e"'
    masked = masker.text(text)
    assert masked == (f'"\\u002fsubscriptions\\u002f{expected("sub", SUBSCRIPTION)}\\u002fx" '
                      f'"\\u003c{expected("tenant", TENANT)}\\u003e"')
