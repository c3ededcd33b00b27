"""Filters users paste into their SIEM to drop MDC CSPM's reads, generated from the role ARNs actually found.

The texts are data (`filters.json`); this module only validates the ARNs and fills them in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mdcnb.core.package_data import read_json

TEMPLATES: dict = read_json(__package__, "cloudtrail_filters.json")
_SAFE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$")


def _checked(arns: Iterable[str]) -> list[str]:
    out = sorted({a for a in arns if a})
    bad = [a for a in out if not _SAFE_ARN.match(a)]
    if bad:
        raise ValueError(f"not an IAM role ARN (refusing to put it in a filter): {bad[0]!r}")
    return out


def filters(role_arns: Iterable[str]) -> dict[str, dict[str, str]]:
    """{name: {title, text, where}} for each SIEM, plus `cloudtrail_note`; empty texts when no ARN is known."""
    arns = _checked(role_arns)
    quoted = ", ".join(f'"{a}"' for a in arns)
    sql_quoted = ", ".join(f"'{a}'" for a in arns)
    regex = "|".join(re.escape(a).replace("/", r"\/") for a in arns)
    out: dict[str, dict[str, str]] = {}
    for name, spec in TEMPLATES.items():
        if not isinstance(spec, dict):
            continue
        text = spec["text"].format(arns=sql_quoted if name == "sql" else quoted, arn_regex=regex) if arns else ""
        out[name] = {"title": spec["title"], "text": text, "where": spec["where"]}
    out["cloudtrail_note"] = {"title": "What CloudTrail cannot filter", "text": TEMPLATES["cloudtrail_note"],
                              "where": ""}
    return out
