"""A small azure-core pipeline for the REST calls the cost slice makes (Retail Prices, Cost Management).

azure-core gives retries with back-off and `Retry-After`, TLS verification (`connection_verify`, a CA bundle path
for loopback test servers or proxies) and bearer-token authentication, so the clients only build requests and read
JSON. The toolkit is read-only: the only methods used are GET and the Cost Management query POST.
"""

from __future__ import annotations

from typing import Any

from azure.core import PipelineClient
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    HeadersPolicy,
    RetryPolicy,
    UserAgentPolicy,
)

from mdcnb import __version__

ARM_SCOPE = "https://management.azure.com/.default"


def pipeline_client(base_url: str, *, credential: Any = None, scope: str = ARM_SCOPE,
                    retry: RetryPolicy | None = None) -> PipelineClient:
    """A PipelineClient with user agent, retries and (when a credential is given) bearer-token auth."""
    policies: list[Any] = [HeadersPolicy({"Accept": "application/json"}),
                           UserAgentPolicy(user_agent=f"mdcnb/{__version__}"),
                           retry or RetryPolicy(retry_total=5)]
    if credential is not None:
        policies.append(BearerTokenCredentialPolicy(credential, scope))
    return PipelineClient(base_url=base_url, policies=policies)
