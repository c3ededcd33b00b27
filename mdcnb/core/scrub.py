"""Secrets out of every message mdcnb writes or lets a library write: tokens always, ids when masking is on.

`scrub(text)` removes bearer tokens, JWT-looking strings, `client_secret=`-style fields and the values of the
azure-identity secret variables. `scrub_library_logs(masker)` makes every log record of azure-core, azure-identity
and MSAL pass through `scrub` and, with a masker, `Masker.text` before any filter or handler sees it: an HTTP trace
with `Authorization: Bearer ...`, a token request naming the tenant in its URL.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from typing import Any, Protocol

REDACTED = "<redacted>"
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# `client_secret=x`, `"access_token": "x"`, `password: x`: the field name stays, its value goes.
_SECRET_FIELD = re.compile(r"(?i)(\b(?:client_secret|client_assertion|access_token|refresh_token|id_token|password)"
                           r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]+")
_SECRET_ENV = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_PASSWORD")


class Masker(Protocol):
    """What the scrubber needs of `mdcnb.tables.mask.Masker` (core imports nothing above it)."""

    def text(self, text: str) -> str: ...


# Loggers of the libraries that talk to Entra ID and ARM on mdcnb's behalf (children included).
LIBRARY_LOGGERS = ("azure", "msal")


def scrub(text: str) -> str:
    """`text` without bearer tokens, JWTs, secret fields and the values of azure-identity secret variables."""
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _SECRET_FIELD.sub(rf"\1{REDACTED}", text)
    for name in _SECRET_ENV:
        secret = os.environ.get(name)
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class ScrubbingRecords:
    """A log record factory that cleans every record of the library loggers as it is made: the message through
    `scrub` (and the masker, if any), a traceback's text likewise. Nothing is dropped.

    A factory rather than a `logging.Filter` on the `azure` logger: a logger's filters never see the records its
    children pass up, and azure-core makes some loggers only when a pipeline is built (the HTTP trace of
    azure-identity's token request), after any filter could have been put on them.
    """

    def __init__(self, base: Callable[..., logging.LogRecord], masker: Masker | None = None) -> None:
        self.base = base
        self.masker = masker

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        if record.name.split(".", 1)[0] in LIBRARY_LOGGERS:
            record.msg, record.args = self.clean(record.getMessage()), None
            if record.exc_info:  # formatted here, where it can be cleaned (handlers reuse `exc_text`)
                record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
        return record

    def clean(self, text: str) -> str:
        text = scrub(text)
        return self.masker.text(text) if self.masker is not None else text


def scrub_library_logs(masker: Masker | None = None) -> ScrubbingRecords:
    """Clean every log record of azure-core, azure-identity and MSAL from now on (`ScrubbingRecords`); a second
    call replaces the masker of the first."""
    current = logging.getLogRecordFactory()
    base = current.base if isinstance(current, ScrubbingRecords) else current
    factory = ScrubbingRecords(base, masker)
    logging.setLogRecordFactory(factory)
    return factory
