"""Who made each record's call, decided column-wise: the issuing role for nearly all records, the session name
for roles that MDC's session prefix could mark, the asked-for role for AssumeRoleWithWebIdentity. The rules
themselves are `identity.RoleMatcher`'s; this applies them once per distinct value."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mdcnb.normalize.cloudtrail.columns import (
    EMPTY,
    IDENTITY_ARN,
    ISSUER,
    NAME,
    PRINCIPAL,
    ROLE_ARN,
    ROLE_SESSION,
    Columns,
    group_rows,
)
from mdcnb.normalize.cloudtrail.identity import RoleMatcher, session_name

ASSUME_ROLE_WEB = "AssumeRoleWithWebIdentity"
Who = tuple[str, str | None]  # (actor, role ARN)


def classify(cols: Columns, matcher: RoleMatcher) -> tuple[np.ndarray, list[Who]]:
    """(index into the distinct (actor, role ARN) per record, those distinct values). The issuing role decides for
    nearly all; the session name only for roles that MDC's session prefix could mark; AssumeRoleWithWebIdentity
    by the role it asks for. Each distinct issuer, session or asked-for role is decided once."""
    codes = cols.codes
    who: dict[Who, int] = {}
    issuers = codes[:, ISSUER]
    distinct = np.flatnonzero(np.bincount(issuers))
    by_issuer = np.full(len(cols.texts), -1, dtype=np.intp)
    by_issuer[distinct] = [-1 if w is None else who.setdefault(w, len(who))
                           for w in matcher.classify_issuers([cols.texts[c] for c in distinct.tolist()])]
    who_idx = by_issuer[issuers]

    def by_session(issuers: list[str], arns: list[str | None], principals: list[str]) -> list[Who]:
        return matcher.classify_sessions(issuers, [session_name(a or p) for a, p in zip(arns, principals, strict=True)])

    def by_asked_role(roles: list[str], sessions: list[str]) -> list[Who]:
        return list(map(matcher.classify_assume_role, roles, sessions))

    undecided = np.flatnonzero(who_idx < 0)
    if len(undecided):
        who_idx[undecided] = _decide(cols, undecided, (ISSUER, IDENTITY_ARN, PRINCIPAL), who, by_session)
    web_code = _code_of(cols, ASSUME_ROLE_WEB)
    if web_code is not None:
        web = np.flatnonzero((codes[:, NAME] == web_code) & (issuers == EMPTY) & (codes[:, ROLE_ARN] > EMPTY))
        if len(web):
            who_idx[web] = _decide(cols, web, (ROLE_ARN, ROLE_SESSION), who, by_asked_role)
    return who_idx, list(who)


def _code_of(cols: Columns, text: str) -> int | None:
    """The code of `text` in `cols` (its texts are distinct: one code at most), None when no record has it. A
    task's texts are thousands (the scanner's, of all its files): list.index finds one faster than a Python loop."""
    try:
        return cols.texts.index(text)
    except ValueError:
        return None


def _decide(cols: Columns, rows: np.ndarray, fields: tuple[int, ...], who: dict[Who, int],
            decide: Callable[..., list[Who]]) -> np.ndarray:
    """`decide` (given one list of texts per field) called on the distinct combinations of `fields` among `rows`;
    each row's answer as an index into `who` (extended with new answers)."""
    codes = cols.codes[rows]
    group, first = group_rows([codes[:, f] for f in fields])
    answers = decide(*([cols.texts[c] for c in codes[first, f].tolist()] for f in fields))
    return np.array([who.setdefault(w, len(who)) for w in answers], dtype=np.intp)[group]
