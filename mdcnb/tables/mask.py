"""Stable pseudonyms for subscription, tenant and AWS account ids, for reports shared outside the team.

A pseudonym is `sub-`, `tenant-` or `aws-` followed by 10 hex digits of an HMAC-SHA256 of the lower-cased id.
The key comes from `MDCNB_MASK_KEY`, else from a per-user key file created on first use, so the same id gets the
same pseudonym week after week while nobody without the key can test a guessed id (a 12-digit AWS account id
space is small enough to brute-force a plain hash). Pseudonyms match neither the GUID nor the 12-digit pattern,
so masking twice changes nothing.

Which ids to mask is learnt from the dataset (subscription, tenant and connector records, the manifest's scope,
CloudTrail folders, the AWS inventory under `aws/<account>/`) and from context in the text itself
(`/subscriptions/<guid>`, account ids inside ARNs and `AWSLogs/<account>`, a tenant in a sign-in URL). A table is
read whole before any cell is masked, so an id met first bare and later in context is masked everywhere. GUIDs
that are not such ids (assessment keys, control ids) are left alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import platformdirs

from mdcnb.sources.aws_dataset import AWS_DIR
from mdcnb.sources.dataset import MANIFEST, cloudtrail_root, read_record_text

KEY_ENV = "MDCNB_MASK_KEY"
SUBSCRIPTION, TENANT, AWS_ACCOUNT = "sub", "tenant", "aws"

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# An id starts after a non-alphanumeric character or after a JSON \u00XX escape (plotly writes `/` as `\u002f`).
_START = r"(?:(?<![0-9A-Za-z])|(?<=\\u00[0-9a-fA-F]{2}))"
_SLASH = r"(?:/|\\u002f)"
_BARE_ID = re.compile(rf"{_START}({_GUID}|\d{{12}})(?![0-9A-Za-z])")
# Ids recognisable from their context, masked even when the dataset never listed them.
_CONTEXT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (SUBSCRIPTION, re.compile(rf"{_SLASH}subscriptions{_SLASH}({_GUID})", re.IGNORECASE)),
    (SUBSCRIPTION, re.compile(rf"\"subscriptionId\"\s*:\s*\"({_GUID})\"", re.IGNORECASE)),
    (TENANT, re.compile(rf"\"(?:home)?tenant_?id\"\s*:\s*\"({_GUID})\"", re.IGNORECASE)),
    (TENANT, re.compile(rf"(?:https?:{_SLASH}{_SLASH}[\w.:-]*{_SLASH}|\btenantid=)({_GUID})(?![0-9A-Za-z])",
                        re.IGNORECASE)),  # a sign-in URL (`https://login.../<tenant>/oauth2`), a history series
    (AWS_ACCOUNT, re.compile(r"arn:aws[\w-]*:[\w-]*:[\w-]*:(\d{12}):")),
    (AWS_ACCOUNT, re.compile(rf"AWSLogs{_SLASH}(?:o-[a-z0-9]+{_SLASH})?(\d{{12}})")),
    (AWS_ACCOUNT, re.compile(r"\"(?:hierarchyIdentifier|awsAccountId|account_?Id|recipientAccountId|Account|OwnerId)"
                             r"\"\s*:\s*\"(\d{12})\"", re.IGNORECASE)),
)
# Small record types whose text names every subscription, tenant and connector account of the dataset.
_ID_SOURCES = ("subscriptions", "securityconnectors", "securescores", "pricings")


def mask_key() -> bytes:
    """The HMAC key: `MDCNB_MASK_KEY`, else a random key kept in the user's config directory (mode 0600)."""
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode()
    path = platformdirs.user_config_path("mdcnb") / "mask.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


class Masker:
    """Replaces known and recognisable ids with stable pseudonyms in text, tables, figures and JSON."""

    def __init__(self, key: bytes, ids: dict[str, str] | None = None) -> None:
        self._key = key
        self._kinds: dict[str, str] = {k.lower(): v for k, v in (ids or {}).items()}

    @classmethod
    def for_dataset(cls, dataset: Path | str, key: bytes | None = None) -> Masker:
        """A masker knowing every subscription, tenant and AWS account id named by the dataset."""
        masker = cls(mask_key() if key is None else key)
        root = Path(dataset)
        for record_type in _ID_SOURCES:
            masker.learn(read_record_text(root, record_type))
        if (root / MANIFEST).is_file():
            masker.learn((root / MANIFEST).read_text(encoding="utf-8", errors="replace"))
        inventory = root / AWS_DIR  # one folder of API responses per AWS account
        if inventory.is_dir():
            masker.add((p.name for p in inventory.iterdir() if p.is_dir() and re.fullmatch(r"\d{12}", p.name)),
                       AWS_ACCOUNT)
            for path in inventory.glob("*/*.json"):
                masker.learn(path.read_text(encoding="utf-8", errors="replace"))
        logs = cloudtrail_root(Path(dataset))
        if logs.is_dir():
            for path in logs.glob("**/AWSLogs/**/CloudTrail"):
                masker.learn(path.as_posix())
        return masker

    @property
    def known(self) -> dict[str, str]:
        """Known ids (lower case) and their kind."""
        return dict(self._kinds)

    def add(self, ids: Iterable[str], kind: str) -> None:
        for value in ids:
            if value:
                self._kinds.setdefault(str(value).lower(), kind)

    def learn(self, text: str) -> None:
        """Remember every id that `text` shows in a recognisable context."""
        for kind, pattern in _CONTEXT_PATTERNS:
            self.add(pattern.findall(text), kind)

    def pseudonym(self, value: str) -> str:
        key = value.lower()
        kind = self._kinds.get(key) or (AWS_ACCOUNT if key.isdigit() else SUBSCRIPTION)
        digest = hmac.new(self._key, key.encode(), hashlib.sha256).hexdigest()[:10]
        return f"{kind}-{digest}"

    def text(self, text: str) -> str:
        """Mask every known id in `text`, learning ids from their context first."""
        if not text:
            return text
        self.learn(text)
        return _BARE_ID.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        value = match.group(1)
        return self.pseudonym(value) if value.lower() in self._kinds else value

    def value(self, value: Any) -> Any:
        """Mask a scalar, list or dict (JSON) value; other types are returned unchanged."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        if isinstance(value, dict):
            return json.loads(self.text(json.dumps(value)))
        return value

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of `df` with ids masked in every text, list and JSON column (and a text index)."""
        out = df.copy()
        columns = [c for c in out.columns if _is_text(out[c].dtype)]
        for column in columns:  # learn from every cell first: a bare id may come before the ARN naming it
            for value in out[column].dropna():
                self.learn(value if isinstance(value, str) else json.dumps(value, default=str))
        for column in columns:
            out[column] = out[column].map(self.value, na_action="ignore").astype(out[column].dtype)
        if _is_text(out.index.dtype):
            out.index = out.index.map(lambda v: self.value(v) if isinstance(v, str) else v)
        return out

    def figure(self, fig: Any) -> Any:
        """A copy of a plotly figure with ids masked in every label, hover text and data value."""
        import plotly.io as pio

        return pio.from_json(self.text(fig.to_json()), skip_invalid=True)


def _is_text(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)
