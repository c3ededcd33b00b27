"""The Azure side of the sample tenant: resources per subscription, Defender plan settings, assessment statuses.

Everything is a function of the context and an identity (subscription, resource, recommendation), so one
subscription can be generated, written and forgotten at a time (bounded memory at 2,000 subscriptions), and a
week's snapshot is the same model seen at that week (resources alive, plans on, statuses flipped by then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mdcnb.sample.catalog import Recommendation
from mdcnb.sample.context import CloudResource, Connector, SampleContext, Subscription, lifetime
from mdcnb.sample.scores import HEALTHY, NOT_APPLICABLE, UNHEALTHY

XSS_NAME = "<img src=x onerror=alert(1)>"  # an attacker-controlled resource name the HTML report must escape
XSS_SUBSCRIPTION = "contoso-sandbox-01"
FREE_VM_SUBSCRIPTION = "contoso-dev-web"  # VirtualMachines Free although the subscription has VMs
DATA_SUBSCRIPTION = "contoso-prod-data"  # always holds every database type
LOCATIONS = ("westeurope", "northeurope", "eastus")
FLIP_CHANCE = 0.15  # share of assessments whose status flips once during the history (remediated / new failure)

# kind -> ARM provider/type as ARM spells it
ARM_TYPES = {
    "vm": "Microsoft.Compute/virtualMachines",
    "vmss": "Microsoft.Compute/virtualMachineScaleSets",
    "aks": "Microsoft.ContainerService/managedClusters",
    "storage": "Microsoft.Storage/storageAccounts",
    "sqlserver": "Microsoft.Sql/servers",
    "postgres": "Microsoft.DBforPostgreSQL/flexibleServers",
    "mysql": "Microsoft.DBforMySQL/flexibleServers",
    "appplan": "Microsoft.Web/serverfarms",
    "webapp": "Microsoft.Web/sites",
    "keyvault": "Microsoft.KeyVault/vaults",
    "cosmos": "Microsoft.DocumentDB/databaseAccounts",
    "arc": "Microsoft.HybridCompute/machines",
}
# plan that protects each kind (for "a plan Free where its resource type exists" and resource-level overrides)
PROTECTING_PLAN = {"vm": "VirtualMachines", "vmss": "VirtualMachines", "arc": "VirtualMachines",
                   "aks": "Containers", "storage": "StorageAccounts", "sqlserver": "SqlServers",
                   "postgres": "OpenSourceRelationalDatabases", "mysql": "OpenSourceRelationalDatabases",
                   "webapp": "AppServices", "keyvault": "KeyVaults", "cosmos": "CosmosDbs"}
# kind -> (service, type) in the securityentitydata ids of multicloud resources
ENTITY_TYPES = {"account": ("iam", "account"), "ec2": ("ec2", "instance"), "sg": ("ec2", "securitygroup"),
                "s3": ("s3", "bucket"), "rds": ("rds", "dbinstance"), "eks": ("eks", "cluster"),
                "project": ("resourcemanager", "project"), "gce": ("compute", "instance"),
                "gcs": ("storage", "bucket"), "gke": ("container", "cluster")}
VM_SIZES = ("Standard_B2s", "Standard_D2s_v5", "Standard_D4s_v5", "Standard_E4s_v5", "Standard_F8s_v2")


@dataclass(frozen=True)
class AzureResource:
    subscription_id: str
    kind: str
    name: str
    resource_group: str
    location: str
    created: datetime
    first_week: int = 0
    last_week: int = 10**6
    sku: dict[str, Any] | None = None
    arm_kind: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def resource_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
                f"{ARM_TYPES[self.kind]}/{self.name}")

    def alive(self, week: int) -> bool:
        return self.first_week <= week <= self.last_week


def _short(sub: Subscription) -> str:
    return sub.display_name.removeprefix("contoso-").replace("-", "")


def _created(ctx: SampleContext, rng, first_week: int) -> datetime:
    if first_week:
        return ctx.week_time(first_week) - timedelta(hours=rng.randint(2, 150), seconds=rng.randint(0, 3599))
    return ctx.week_time(0) - timedelta(days=rng.randint(10, 300), seconds=rng.randint(0, 86399))


def azure_resources(ctx: SampleContext, sub: Subscription) -> list[AzureResource]:
    """The subscription's inventory over the whole history (filter with `alive(week)`)."""
    rng = ctx.rng("azure-resources", sub.subscription_id)
    d, short, prod = ctx.density, _short(sub), sub.production
    env = "prod" if prod else "dev"
    out: list[AzureResource] = []

    def add(kind: str, name: str, rg: str, churn: bool = True, **kw: Any) -> AzureResource:
        first, last = lifetime(ctx, rng, churn)
        res = AzureResource(sub.subscription_id, kind, name, rg, kw.pop("location", rng.choice(LOCATIONS)),
                            _created(ctx, rng, first), first, last, **kw)
        out.append(res)
        return res

    app_rg, data_rg = f"rg-{short}-app", f"rg-{short}-data"
    for n in range(rng.randint(2, 5) * d):
        add("vm", f"vm-{short}-{n:02d}", app_rg, churn=n > 0, arm_kind="",
            properties=_vm_properties(rng), tags={"env": env, "owner": f"team-{short}"})
    if sub.display_name == XSS_SUBSCRIPTION:
        add("vm", XSS_NAME, app_rg, churn=False, properties=_vm_properties(rng), tags={"env": env})
    for n in range(rng.randint(0, 1) * d):
        size = rng.choice(VM_SIZES[1:3])
        add("vmss", f"vmss-{short}-{n:02d}", app_rg,
            sku={"name": size, "tier": "Standard", "capacity": rng.randint(2, 6)},
            properties={"provisioningState": "Succeeded", "upgradePolicy": {"mode": "Manual"},
                        "orchestrationMode": "Uniform"})
    for n in range((1 if rng.random() < (0.7 if prod else 0.35) else 0) * d):
        add("aks", f"aks-{short}-{n:02d}", app_rg, sku={"name": "Base", "tier": "Standard" if prod else "Free"},
            properties=_aks_properties(rng))
    for n in range(rng.randint(1, 3) * d):
        add("storage", f"st{short[:12]}{n:02d}{rng.getrandbits(16):04x}", data_rg, arm_kind="StorageV2",
            sku={"name": rng.choice(("Standard_LRS", "Standard_GRS", "Standard_ZRS")), "tier": "Standard"},
            properties={"supportsHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2",
                        "allowBlobPublicAccess": rng.random() < 0.3, "accessTier": "Hot"})
    for n in range(rng.randint(0, 2) * d):
        add("sqlserver", f"sql-{short}-{n:02d}", data_rg, arm_kind="v12.0",
            properties={"version": "12.0", "state": "Ready",
                        "publicNetworkAccess": rng.choice(("Enabled", "Disabled"))})
    data_subscription = sub.display_name == DATA_SUBSCRIPTION
    for kind, engine, version in (("postgres", "psql", "16"), ("mysql", "mysql", "8.0.21")):
        for n in range((1 if data_subscription or rng.random() < (0.5 if prod else 0.25) else 0) * d):
            add(kind, f"{engine}-{short}-{n:02d}", data_rg,
                sku={"name": rng.choice(("Standard_B2s", "Standard_D2ds_v4", "Standard_D4ds_v4")),
                     "tier": "GeneralPurpose"},
                properties={"version": version, "state": "Ready", "storage": {"storageSizeGB": 128}})
    for n in range(rng.randint(0, 2) * d):
        tier = rng.choice((("P1v3", "PremiumV3"), ("S1", "Standard"), ("B1", "Basic")))
        plan = add("appplan", f"asp-{short}-{n:02d}", app_rg, arm_kind="linux",
                   sku={"name": tier[0], "tier": tier[1], "size": tier[0], "capacity": rng.randint(1, 3)},
                   properties={"status": "Ready", "reserved": True})
        for m in range(rng.randint(1, 2)):
            add("webapp", f"app-{short}-{n:02d}{m}", app_rg, location=plan.location,
                arm_kind=rng.choice(("app,linux", "functionapp,linux")),
                properties={"serverFarmId": plan.resource_id, "httpsOnly": rng.random() < 0.7, "state": "Running"})
    for n in range(rng.randint(1, 2) * d):
        add("keyvault", f"kv-{short[:14]}-{n:02d}", data_rg,
            properties={"sku": {"family": "A", "name": "standard"}, "tenantId": ctx.tenant_id,
                        "enableRbacAuthorization": True, "enableSoftDelete": True})
    for n in range((1 if data_subscription or rng.random() < 0.35 else 0) * d):
        add("cosmos", f"cosmos-{short}-{n:02d}", data_rg, arm_kind="GlobalDocumentDB",
            properties={"databaseAccountOfferType": "Standard", "publicNetworkAccess": "Enabled"})
    out.extend(_arc_machines(ctx, sub))
    return out


def _vm_properties(rng) -> dict[str, Any]:
    running = rng.random() < 0.85
    os_type = rng.choice(("Linux", "Linux", "Windows"))
    return {"vmId": f"{rng.getrandbits(128):032x}", "hardwareProfile": {"vmSize": rng.choice(VM_SIZES)},
            "storageProfile": {"osDisk": {"osType": os_type}}, "provisioningState": "Succeeded",
            "extended": {"instanceView": {"powerState": {
                "code": "PowerState/running" if running else "PowerState/deallocated",
                "displayStatus": "VM running" if running else "VM deallocated"}}}}


def _aks_properties(rng) -> dict[str, Any]:
    pools = [{"name": "system", "count": rng.randint(2, 3), "vmSize": "Standard_D4s_v5", "osType": "Linux",
              "mode": "System"}]
    if rng.random() < 0.7:
        pools.append({"name": "user", "count": rng.randint(2, 8), "vmSize": rng.choice(VM_SIZES[2:]),
                      "osType": "Linux", "mode": "User"})
    return {"kubernetesVersion": rng.choice(("1.29.9", "1.30.5", "1.31.2")), "agentPoolProfiles": pools,
            "powerState": {"code": "Running"}, "provisioningState": "Succeeded"}


def arc_resource_group(connector: Connector) -> str:
    return f"rg-arc-{connector.name.split('_')[0]}"


def _arc_machines(ctx: SampleContext, sub: Subscription) -> list[AzureResource]:
    """Azure Arc machines that connectors in this subscription onboarded for EC2 instances."""
    out = []
    for ec2 in ctx.ec2_instances:
        connector = ctx.connector_for_account(ec2.hierarchy_id)
        if not ec2.arc_machine or connector is None or connector.subscription_id != sub.subscription_id:
            continue
        rng = ctx.rng("arc", ec2.resource_id)
        first = max(ec2.first_week, connector.first_week)
        out.append(AzureResource(
            sub.subscription_id, "arc", ec2.resource_id, arc_resource_group(connector), connector.location,
            _created(ctx, rng, first), first, ec2.last_week, arm_kind="AWS",
            properties={"status": "Connected", "osName": "linux", "osType": "linux",
                        "cloudMetadata": {"provider": "AWS"},
                        "detectedProperties": {"cloudprovider": "AWS", "instanceType": ec2.instance_type,
                                               "region": ec2.region}},
            tags={"AccountId": ec2.hierarchy_id, "Cloud": "AWS", "InstanceId": ec2.resource_id,
                  "MDFCSecurityConnector": connector.name}))
    return out


def arc_machine_id(ctx: SampleContext, ec2: CloudResource) -> str | None:
    connector = ctx.connector_for_account(ec2.hierarchy_id)
    if not ec2.arc_machine or connector is None:
        return None
    return (f"/subscriptions/{connector.subscription_id}/resourceGroups/{arc_resource_group(connector)}"
            f"/providers/{ARM_TYPES['arc']}/{ec2.resource_id}")


# --- Defender plans ---------------------------------------------------------------------------------------

PLANS = ("VirtualMachines", "SqlServers", "AppServices", "StorageAccounts", "SqlServerVirtualMachines",
         "KeyVaults", "Arm", "Dns", "KubernetesService", "ContainerRegistry", "OpenSourceRelationalDatabases",
         "Containers", "CosmosDbs", "CloudPosture", "Api", "AI")
DEPRECATED = {"Dns": ["VirtualMachines"], "KubernetesService": ["Containers"], "ContainerRegistry": ["Containers"]}
TRIAL_DAYS = 30


@dataclass(frozen=True)
class PlanSetting:
    """A subscription's setting of one plan over the history: Standard from `enabled` on (None: always Free)."""

    name: str
    enabled: datetime | None
    sub_plan: str | None = None
    enforce: str = "False"
    extensions: tuple[dict[str, Any], ...] = ()

    def standard_at(self, moment: datetime) -> bool:
        return self.enabled is not None and self.enabled <= moment


def _long_ago(rng, ctx: SampleContext) -> datetime:
    return ctx.week_time(0) - timedelta(days=rng.randint(40, 600), seconds=rng.randint(0, 86399),
                                        microseconds=rng.randint(0, 999999))


def plan_settings(ctx: SampleContext, sub: Subscription) -> dict[str, PlanSetting]:
    """Defender plan settings of a subscription over the history, in the order ARM lists them."""
    rng = ctx.rng("plans", sub.subscription_id)
    prod, name = sub.production, sub.display_name

    def on(chance: float) -> datetime | None:
        return _long_ago(rng, ctx) if rng.random() < chance else None

    settings: dict[str, PlanSetting] = {}
    vm_on = None if name == FREE_VM_SUBSCRIPTION else on(0.95 if prod else 0.5)
    vm_sub_plan = "P2" if prod and rng.random() < 0.8 else "P1"
    if name == "contoso-test-payments":  # a plan in free trial at the latest snapshot: P12DT3H left
        vm_on, vm_sub_plan = ctx.as_of - timedelta(days=TRIAL_DAYS - 12, hours=-3), "P2"
    vm_ext = [{"name": "MdeDesignatedSubscription", "isEnabled": "False"}]
    if vm_sub_plan == "P2":
        vm_ext.append({"name": "AgentlessVmScanning", "isEnabled": "True", "additionalExtensionProperties": {
            "ExclusionTags": '[{"key":"mdc-exclude","value":"true"}]' if prod else "[]"}})
    settings["VirtualMachines"] = PlanSetting("VirtualMachines", vm_on, vm_sub_plan, extensions=tuple(vm_ext))
    legacy_storage = name == "contoso-prod-identity"
    settings["StorageAccounts"] = PlanSetting(
        "StorageAccounts", on(0.9 if prod else 0.3), "PerTransaction" if legacy_storage else "DefenderForStorageV2",
        extensions=() if legacy_storage else (
            {"name": "OnUploadMalwareScanning", "isEnabled": "True",
             "additionalExtensionProperties": {"CapGBPerMonthPerStorageAccount": "5000"}},
            {"name": "SensitiveDataDiscovery", "isEnabled": "True" if prod else "False"}))
    containers_on = on(0.8 if prod else 0.2)
    if name == "contoso-prod-data" and ctx.weeks > 2:  # switched on during the history
        containers_on = ctx.week_time(ctx.latest_week - 2) - timedelta(days=1, hours=5)
    settings["Containers"] = PlanSetting("Containers", containers_on, extensions=(
        {"name": "ContainerRegistriesVulnerabilityAssessments", "isEnabled": "True"},
        {"name": "AgentlessDiscoveryForKubernetes", "isEnabled": "True"},
        {"name": "ContainerSensor", "isEnabled": "True"}))
    cspm_on = on(0.6 if prod else 0.1)
    if name == "contoso-prod-payments" and ctx.weeks > 2:
        cspm_on = ctx.week_time(1) - timedelta(days=2, hours=3)
    settings["CloudPosture"] = PlanSetting("CloudPosture", cspm_on, enforce="True" if name == "contoso-prod-platform"
                                           else "False", extensions=(
        {"name": "SensitiveDataDiscovery", "isEnabled": "True"},
        {"name": "ContainerRegistriesVulnerabilityAssessments", "isEnabled": "True"},
        {"name": "AgentlessDiscoveryForKubernetes", "isEnabled": "True",
         **({"operationStatus": {"code": "Failed", "message": "The extension could not be enabled: missing "
                                 "permissions on the subscription."}} if name == "contoso-security" else {})},
        {"name": "AgentlessVmScanning", "isEnabled": "True",
         "additionalExtensionProperties": {"ExclusionTags": "[]"}}))
    settings["Arm"] = PlanSetting("Arm", on(0.9 if prod else 0.2), "PerApiCall" if rng.random() < 0.2
                                  else "PerSubscription")
    settings["KeyVaults"] = PlanSetting("KeyVaults", on(0.9 if prod else 0.2), "PerKeyVault")
    for plan in ("SqlServers", "SqlServerVirtualMachines", "OpenSourceRelationalDatabases", "CosmosDbs",
                 "AppServices"):
        settings[plan] = PlanSetting(plan, on(0.7 if prod else 0.15))
    settings["Dns"] = PlanSetting("Dns", on(0.4 if prod else 0.0))
    settings["KubernetesService"] = PlanSetting("KubernetesService", None)
    settings["ContainerRegistry"] = PlanSetting("ContainerRegistry", None)
    settings["Api"] = PlanSetting("Api", on(0.15), "P1")
    settings["AI"] = PlanSetting("AI", on(0.15))
    return {p: settings[p] for p in PLANS}


def trial_remaining(setting: PlanSetting, moment: datetime) -> str:
    """ISO-8601 duration of free trial left at `moment` (`PT0S` when none), e.g. `P12DT3H`."""
    if not setting.standard_at(moment):
        return "PT0S"
    left = timedelta(days=TRIAL_DAYS) - (moment - setting.enabled)  # type: ignore[operator]
    if left <= timedelta(0):
        return "PT0S"
    days, hours = left.days, left.seconds // 3600
    return "P" + (f"{days}D" if days else "") + (f"T{hours}H" if hours else "") if days or hours else "PT0S"


def vm_overrides(resources: list[AzureResource], sub: Subscription) -> dict[str, str]:
    """Resource-level VirtualMachines settings: resource id -> `Free` or `P1` (two production subscriptions)."""
    vms = [r for r in resources if r.kind == "vm" and r.first_week == 0 and r.last_week >= 10**6]
    if sub.display_name == "contoso-prod-web" and vms:
        return {vms[0].resource_id: "Free"}
    if sub.display_name == "contoso-prod-platform" and len(vms) > 1:
        return {vms[1].resource_id: "P1"}
    return {}


# --- assessment statuses ------------------------------------------------------------------------------------

OFF_BY_POLICY = ("OffByPolicy", "The effective policy for the assessment was evaluated to off - use "
                 "Microsoft.Authorization/policyAssignments to turn this assessment on")


@dataclass(frozen=True)
class Status:
    code: str
    cause: str | None = None
    description: str | None = None
    changed_week: int | None = None  # week the status last changed, None = since first evaluation


def status(ctx: SampleContext, rec: Recommendation, resource_key: str, week: int, plan_on: bool = True) -> Status:
    """Status of a recommendation on a resource at a week: plan gating, policy, base draw, one possible flip."""
    if rec.plan and not plan_on:
        return Status(NOT_APPLICABLE, "UnsupportedPricingPlan",
                      f"The subscription is not onboarded to the Defender plan '{rec.plan}'")
    u_na, u_fail, u_flip = ctx.unit("status", rec.key, resource_key)
    if u_na < rec.not_applicable:
        return Status(NOT_APPLICABLE, *OFF_BY_POLICY)
    code = UNHEALTHY if u_fail < rec.fail else HEALTHY
    if ctx.weeks > 1 and u_flip < FLIP_CHANCE:
        flip_week = 1 + int(u_flip / FLIP_CHANCE * (ctx.weeks - 1))
        if week >= flip_week:
            return Status(HEALTHY if code == UNHEALTHY else UNHEALTHY, changed_week=flip_week)
    return Status(code)


def entity_id(connector: Connector, resource: CloudResource) -> str:
    """ARM-style id MDC gives a multicloud resource below its native connector (lower case, as ARG shows it)."""
    service, rtype = ENTITY_TYPES[resource.kind]
    prefix = "aws" if resource.cloud == "AWS" else "gcp"
    return (f"{connector.arm_id}/securityentitydata/{prefix}-{service}-{rtype}-{resource.resource_id}-"
            f"{resource.region}").lower()
