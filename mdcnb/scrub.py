"""Secrets out of every message mdcnb writes or lets a library write: tokens always, ids when masking is on.

`scrub(text)` removes bearer tokens, JWT-looking strings, `client_secret=`-style fields and the values of the
azure-identity secret variables. `scrub_library_logs(masker)` puts a `ScrubFilter` on the loggers of azure-core,
azure-identity and MSAL, so their log lines (an HTTP trace with `Authorization: Bearer ...`, a token request
naming the tenant) pass through `scrub` and, with a masker, through `Masker.text` before any handler sees them.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mdcnb.mask import Masker

REDACTED = "<redacted>"
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# `client_secret=x`, `"access_token": "x"`, `password: x`: the field name stays, its value goes.
_SECRET_FIELD = re.compile(r"(?i)(\b(?:client_secret|client_assertion|access_token|refresh_token|id_token|password)"
                           r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]+")
_SECRET_ENV = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_PASSWORD")
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


class ScrubFilter(logging.Filter):
    """Rewrites a record's message through `scrub` (and the masker, if any); never drops a record."""

    def __init__(self, masker: Masker | None = None) -> None:
        super().__init__()
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.clean(record.getMessage()), None
        if record.exc_info and not record.exc_text:  # a traceback's text, formatted here so it can be cleaned
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True

    def clean(self, text: str) -> str:
        text = scrub(text)
        return self.masker.text(text) if self.masker is not None else text


def scrub_library_logs(masker: Masker | None = None) -> ScrubFilter:
    """Put one `ScrubFilter` on every azure / MSAL logger that exists (replacing an earlier one) and return it.

    A logger's filters see only the records logged on that logger, not those its children pass up, so the filter
    goes on each of them; azure-identity and azure-core are imported first so that their loggers exist. Call again
    after importing another azure package.
    """
    import azure.core.pipeline.policies  # creates azure-core's loggers
    import azure.identity  # noqa: F401  (creates azure-identity's and MSAL's loggers)

    scrubber = ScrubFilter(masker)
    names = [n for n in logging.root.manager.loggerDict
             if any(n == root or n.startswith(root + ".") for root in LIBRARY_LOGGERS)]
    for name in {*LIBRARY_LOGGERS, *names}:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, ScrubFilter)]:
            logger.removeFilter(old)
        logger.addFilter(scrubber)
    return scrubber
