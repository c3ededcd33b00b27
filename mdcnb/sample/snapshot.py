"""Write one weekly snapshot of the Azure-side records (the `azure` part of the pipeline).

One subscription at a time: its resources, plans, assessments (Azure, classic-connector AWS findings, and the
assessments of the native connectors it holds), then the secure scores and regulatory compliance computed from
exactly those assessments. Nothing of a subscription is kept once written, so memory stays bounded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mdcnb.sample import governance, records
from mdcnb.sample.catalog import Standard, controls, recommendations, recommendations_for, standards
from mdcnb.sample.context import CloudResource, Connector, SampleContext, Subscription, iso
from mdcnb.sample.estate import (
    arc_machine_id,
    azure_resources,
    entity_id,
    plan_settings,
    status,
    vm_overrides,
)
from mdcnb.sample.scores import Scored, compliance, control_scores, scope_score
from mdcnb.sources.dataset_write import DatasetWriter, write_manifest

ENVIRONMENT_OF_STANDARD_SCOPE = {"Subscription": "Azure", "MultiCloudAggregation": "AWS"}


def write_snapshot(ctx: SampleContext, week: int) -> dict[str, int]:
    """Write the dataset of week index `week` as gzipped JSON Lines (plain for the latest week with `ctx.plain`).
    Returns record counts."""
    out = ctx.week_dir(week)
    moment = ctx.week_time(week)
    the_plan = governance.plan(ctx)
    with DatasetWriter(out, compress=not (ctx.plain and week == ctx.latest_week)) as writer:
        for sub in ctx.subscriptions:
            writer.write("subscriptions", records.subscription_record(ctx, sub))
        for connector in ctx.connectors:
            if connector.active(week):
                writer.write("securityconnectors", records.connector_record(ctx, connector))
        for rec in recommendations():
            writer.write("assessmentmetadata", records.metadata_record(rec))
        for sub in ctx.subscriptions:
            _write_subscription(ctx, writer, sub, week, moment, the_plan)
        governance.write_records(ctx, the_plan, writer, week)
    write_manifest(out, source="sample", created=moment, counts=dict(sorted(writer.counts.items())),
                   scope={"tenant_id": ctx.tenant_id, "subscriptions": len(ctx.subscriptions)},
                   extra={"seed": ctx.seed, "scale": ctx.scale, "as_of": iso(moment),
                          "week": ctx.week_label(week), "weeks": ctx.weeks})
    return writer.counts


def _keys_by_control(standard: Standard) -> dict[str, list[str]]:
    environment = ENVIRONMENT_OF_STANDARD_SCOPE[standard.scope]
    out: dict[str, list[str]] = {}
    for rec in recommendations():
        control = rec.regulatory.get(standard.key)
        if control and rec.environment == environment:
            out.setdefault(control, []).append(rec.key)
    return out


def _write_subscription(ctx: SampleContext, writer: DatasetWriter, sub: Subscription, week: int,
                        moment: datetime, the_plan: governance.Plan) -> None:
    resources = azure_resources(ctx, sub)
    alive = [r for r in resources if r.alive(week)]
    settings = plan_settings(ctx, sub)
    overrides = {rid: tier for rid, tier in vm_overrides(resources, sub).items()
                 if any(r.resource_id == rid for r in alive)}
    for r in alive:
        writer.write("resources", records.resource_record(ctx, r))
    for name, setting in settings.items():
        partial = name == "VirtualMachines" and "Free" in overrides.values() and setting.standard_at(moment)
        writer.write("pricings", records.pricing_record(ctx, sub, setting, moment,
                                                        "PartiallyCovered" if partial else None))
    for rid, tier in overrides.items():
        writer.write("pricings", records.resource_pricing_record(ctx, sub, rid, tier))

    scored: list[Scored] = []

    def emit(shape: str, rg: str, resource_id: str, details: dict[str, Any], rec, key: str, first: datetime,
             plan_on: bool, scored_into: list[Scored], sub_id: str = sub.subscription_id,
             cspm: bool = settings["CloudPosture"].standard_at(moment)) -> None:
        st = governance.exempted(ctx, the_plan, resource_id, rec, status(ctx, rec, key, week, plan_on), moment)
        changed = first
        if st.changed_week is not None:
            changed = max(first, ctx.week_time(st.changed_week) - timedelta(hours=31, minutes=17))
        elif rec.plan and plan_on and settings[rec.plan].enabled and settings[rec.plan].enabled > first:
            changed = settings[rec.plan].enabled
        writer.write("assessments", records.assessment_record(ctx, shape, sub_id, rg, resource_id, details, rec, st,
                                                              first, changed, governance.risk(ctx, rec, key, st, cspm)))
        scored_into.append(Scored(rec.key, rec.control, resource_id, st.code, rec.preview))

    sub_created = ctx.week_time(0) - timedelta(days=400)
    for rec in recommendations_for("subscription"):
        plan_on = rec.plan is None or settings[rec.plan].standard_at(moment)
        emit(sub.shape, "", sub.scope_id, records.azure_details(sub.scope_id), rec, sub.scope_id, sub_created,
             plan_on, scored)
    for r in alive:
        for rec in recommendations_for(r.kind):
            plan_on = rec.plan is None or settings[rec.plan].standard_at(moment)
            if rec.plan == "VirtualMachines" and r.resource_id in overrides:
                plan_on = overrides[r.resource_id] != "Free"
            emit(sub.shape, r.resource_group, r.resource_id, records.azure_details(r.resource_id), rec,
                 r.resource_id, r.created, plan_on, scored)

    aws_scored: list[Scored] = []
    for connector in ctx.connectors:
        if connector.subscription_id != sub.subscription_id or not connector.active(week):
            continue
        if connector.kind == "classic":
            _classic_findings(ctx, connector, week, emit, scored)
            continue
        connector_scored: list[Scored] = []
        for resource in ctx.cloud_resources:
            if resource.hierarchy_id != connector.hierarchy_id or not resource.alive(week):
                continue
            entity = entity_id(connector, resource)
            first = _first_seen(ctx, connector, resource)
            for rec in recommendations_for(resource.kind):
                emit(connector.shape, connector.resource_group, entity,
                     records.multicloud_details(connector, resource, entity), rec, entity, first, True,
                     connector_scored, cspm=governance.defender_cspm(connector))
        _write_scores(ctx, writer, connector.shape, connector.arm_id, sub.subscription_id, connector.resource_group,
                      connector.environment, connector_scored)
        if connector.environment == "AWS":
            aws_scored.extend(connector_scored)

    _write_scores(ctx, writer, sub.shape, sub.scope_id, sub.subscription_id, "", "Azure", scored)
    for standard in standards():
        if standard.applies_to == "aws":
            if not aws_scored:
                continue
            result = compliance(standard, aws_scored, _keys_by_control(standard))
        elif standard.applies_to == "production" and not sub.production:
            continue
        else:
            result = compliance(standard, scored, _keys_by_control(standard))
        for record_type, rows in records.compliance_records(ctx, sub, result).items():
            for row in rows:
                writer.write(record_type, row)


def _classic_findings(ctx: SampleContext, connector: Connector, week: int, emit, scored: list[Scored]) -> None:
    """The classic connector reports the same EC2 findings again (Arc-onboarded instances): duplicates."""
    native = ctx.connector_for_account(connector.hierarchy_id)
    if native is None or not native.active(week):
        return
    for ec2 in ctx.ec2_instances:
        arc_id = arc_machine_id(ctx, ec2)
        if ec2.hierarchy_id != connector.hierarchy_id or not ec2.alive(week) or arc_id is None:
            continue
        entity = entity_id(native, ec2)  # same status key as the native finding: true duplicates
        for rec in recommendations_for("ec2"):
            emit("arg", arc_id.split("/")[4], arc_id, records.classic_details(arc_id, ec2), rec, entity,
                 _first_seen(ctx, native, ec2), True, scored, cspm=governance.defender_cspm(native))


def _first_seen(ctx: SampleContext, connector: Connector, resource: CloudResource) -> datetime:
    rng = ctx.rng("first-seen", resource.native_id)
    first_week = max(connector.first_week, resource.first_week)
    if first_week:
        return ctx.week_time(first_week) - timedelta(hours=rng.randint(2, 150))
    onboarded = datetime.fromisoformat(connector.created_at[:19] + "+00:00")
    return onboarded + timedelta(hours=rng.randint(1, 48), seconds=rng.randint(0, 3599))


def _write_scores(ctx: SampleContext, writer: DatasetWriter, shape: str, scope_id: str, sub_id: str, rg: str,
                  environment: str, scored: list[Scored]) -> None:
    scores = control_scores(scored, controls())
    writer.write("securescores", records.secure_score_record(ctx, shape, scope_id, sub_id, rg, environment,
                                                             scope_score(scored, scores)))
    for cs in scores:
        writer.write("securescorecontrols", records.score_control_record(ctx, shape, scope_id, sub_id, rg, cs))
