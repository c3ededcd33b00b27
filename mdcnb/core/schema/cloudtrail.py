"""Contracts of the CloudTrail feature (`mdcnb.tables.cloudtrail`; not loaded by `load_tables`: they come from
scanning log files, and the trail audit from the trails' settings)."""

from __future__ import annotations

from mdcnb.core.schema.contract import BOOL, INT, LIST, STRING, TIME, Table, table

CLOUDTRAIL_VOLUME = table(
    "cloudtrail_volume",
    "CloudTrail events by day x account x region x eventSource x eventName x actor, de-duplicated by eventID "
    "(`mdcnb.tables.cloudtrail`; not loaded by `load_tables`: it comes from scanning log files). Bytes are the size of "
    "each record's JSON as delivered, without whitespace between tokens (strings byte for byte as written).",
    ("date", STRING, "event day, YYYY-MM-DD (UTC, from eventTime)"),
    ("account_id", STRING, "recipientAccountId (else the account in the log path)"),
    ("region", STRING, "awsRegion"),
    ("event_source", STRING, "eventSource, e.g. ec2.amazonaws.com"),
    ("event_name", STRING, "eventName, e.g. DescribeInstances"),
    ("actor", STRING, "cspm (CspmMonitorAws session), cspm_assume_role (its AssumeRoleWithWebIdentity), "
                      "mdc_other (another MDC role) or other"),
    ("role_arn", STRING, "IAM role ARN (session issuer, or roleArn of AssumeRoleWithWebIdentity) for MDC rows"),
    ("role_name", STRING, "IAM role name for MDC rows, else null"),
    ("events", INT, "events"),
    ("read_only_events", INT, "events with readOnly true"),
    ("bytes", INT, "bytes of those events"),
    ("read_only_bytes", INT, "bytes of the read-only events"),
)

CLOUDTRAIL_HOURLY = table(
    "cloudtrail_hourly",
    "CloudTrail events by hour x account x region x actor (same counting rules as `cloudtrail_volume`).",
    ("hour", TIME, "start of the hour (UTC)"),
    ("account_id", STRING, "account"),
    ("region", STRING, "awsRegion"),
    ("actor", STRING, "cspm, cspm_assume_role, mdc_other or other"),
    ("events", INT, "events"),
    ("read_only_events", INT, "read-only events"),
    ("bytes", INT, "bytes"),
)

CLOUDTRAIL_DAILY = Table(
    "cloudtrail_daily",
    "CloudTrail volume per day x account x region x actor: `cloudtrail_volume` summed over event sources and "
    "names (`mdcnb.tables.cloudtrail.result.cloudtrail_daily`), with its columns. Each history snapshot stores it "
    "(`mdcnb.tables.history`) so the weekly trend needs no log rescan.",
    tuple(c for c in CLOUDTRAIL_VOLUME.columns if c.name not in ("event_source", "event_name", "role_arn",
                                                                 "role_name")),
)

CLOUDTRAIL_TRAILS = table(
    "cloudtrail_trails",
    "Trail audit (`mdcnb cloudtrail trails`): does each trail record read-only management events, and where "
    "does it deliver them.",
    ("trail_arn", STRING, "TrailARN"),
    ("name", STRING, "trail name"),
    ("account_id", STRING, "account that owns the trail (from its ARN)"),
    ("home_region", STRING, "HomeRegion"),
    ("multi_region", BOOL, "IsMultiRegionTrail"),
    ("organization_trail", BOOL, "IsOrganizationTrail"),
    ("logging", BOOL, "GetTrailStatus IsLogging (null when unknown)"),
    ("selector_kind", STRING, "basic, advanced, default (no custom selectors: all management events), none or unknown"),
    ("records_management_reads", BOOL, "read-only management events are recorded"),
    ("excluded_sources", LIST, "management event sources excluded (e.g. kms.amazonaws.com)"),
    ("s3_bucket", STRING, "S3BucketName"),
    ("s3_prefix", STRING, "S3KeyPrefix"),
    ("cloudwatch_log_group", STRING, "CloudWatchLogsLogGroupArn"),
    ("note", STRING, "what this means for CSPM's reads"),
)
