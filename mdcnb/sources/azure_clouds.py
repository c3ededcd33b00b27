"""Azure clouds by name: where ARM lives, which authority issues tokens, and the token scope ARM accepts."""

from __future__ import annotations

from dataclasses import dataclass

from azure.identity import AzureAuthorityHosts


@dataclass(frozen=True)
class AzureCloud:
    """One Azure cloud (the names are those of `az cloud list`)."""

    name: str
    arm_endpoint: str
    authority_host: str

    @property
    def token_scope(self) -> str:
        """ARM's audience in this cloud, as an azure-identity scope."""
        return f"{self.arm_endpoint.rstrip('/')}/.default"


CLOUDS: dict[str, AzureCloud] = {c.name.lower(): c for c in (
    AzureCloud("AzureCloud", "https://management.azure.com", AzureAuthorityHosts.AZURE_PUBLIC_CLOUD),
    AzureCloud("AzureUSGovernment", "https://management.usgovcloudapi.net", AzureAuthorityHosts.AZURE_GOVERNMENT),
    AzureCloud("AzureChinaCloud", "https://management.chinacloudapi.cn", AzureAuthorityHosts.AZURE_CHINA),
)}


def cloud_by_name(name: str) -> AzureCloud:
    """The cloud called `name` (case-insensitive); a clear error lists the known names."""
    try:
        return CLOUDS[name.lower()]
    except KeyError:
        known = ", ".join(c.name for c in CLOUDS.values())
        raise ValueError(f"unknown Azure cloud {name!r}; known clouds: {known}") from None
