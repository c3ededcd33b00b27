"""Contracts of the AWS-side inventory the readiness audit reads (normalised from the recorded boto3 calls by
`mdcnb.normalize.aws_inventory`; held per dataset by `mdcnb.tables.aws_inventory.AwsInventory`).

Every table has the `account_id` the calls were made in. A row comes from a successful call only: what was not
collected, and where a call failed, is in `aws_calls` (one row per call), so a check can tell "none found" from
"could not look". Regional tables carry the region of their call; an operation has one call per region.
"""

from __future__ import annotations

from mdcnb.core.schema.contract import BOOL, JSON, LIST, STRING, TIME, table

AWS_COLLECTIONS = table(
    "aws_collections",
    "One row per AWS account whose inventory was collected (`aws/<account-id>/collection.json`, or a live run).",
    ("account_id", STRING, "AWS account id the calls were made in"),
    ("collected_at", TIME, "when the inventory was collected; null when the dataset does not say"),
    ("source", STRING, "boto3 (live), sample, or empty when unknown"),
    ("regions", LIST, "regions the regional calls covered"),
)

AWS_CALLS = table(
    "aws_calls",
    "One row per recorded AWS API call, successful or not: an operation with no row was not collected.",
    ("account_id", STRING, "AWS account id"),
    ("operation", STRING, "`<service>_<Operation>`, e.g. iam_ListRoles, ec2_DescribeInstances"),
    ("region", STRING, "region of a regional call; null for a global one"),
    ("target", STRING, "the resource a per-resource call asked about (OIDC provider ARN, role name, bucket name: "
                       "its one string parameter); null for a listing"),
    ("ok", BOOL, "the call returned a response (false: the service returned an error, or the recorded response "
                 "had not the shape the audit reads)"),
    ("error_code", STRING, "error code of a failed call, e.g. AccessDenied, UnexpectedShape"),
    ("error_message", STRING, "error message of a failed call"),
)

AWS_OIDC_PROVIDERS = table(
    "aws_oidc_providers",
    "One row per IAM OIDC identity provider (`iam:ListOpenIDConnectProviders`).",
    ("account_id", STRING, "AWS account id"),
    ("arn", STRING, "provider ARN"),
    ("audiences", LIST, "ClientIDList of `iam:GetOpenIDConnectProvider` (read for the MDC provider only; empty when "
                        "not read: `aws_calls` says why)"),
)

AWS_ROLES = table(
    "aws_roles",
    "One row per IAM role (`iam:ListRoles`).",
    ("account_id", STRING, "AWS account id"),
    ("role_name", STRING, "RoleName, as IAM spells it"),
    ("trust_policy", JSON, "AssumeRolePolicyDocument as an object (URL-encoded JSON decoded); null when it is not "
                           "one"),
)

AWS_INSTANCE_PROFILES = table(
    "aws_instance_profiles",
    "One row per IAM instance profile (`iam:ListInstanceProfiles`).",
    ("account_id", STRING, "AWS account id"),
    ("profile_arn", STRING, "instance profile ARN"),
    ("role_names", LIST, "names of the roles in the profile"),
)

AWS_ATTACHED_POLICIES = table(
    "aws_attached_policies",
    "One row per managed policy attached to a role EC2 instances use (`iam:ListAttachedRolePolicies`).",
    ("account_id", STRING, "AWS account id"),
    ("role_name", STRING, "the role asked about"),
    ("policy_arn", STRING, "PolicyArn"),
)

AWS_ORG_ACCOUNTS = table(
    "aws_org_accounts",
    "One row per account of the organisation, as its management account lists them (`organizations:ListAccounts`).",
    ("account_id", STRING, "the management account that listed them"),
    ("member_id", STRING, "the listed account's id"),
    ("name", STRING, "account name"),
    ("status", STRING, "Status as listed (ACTIVE, SUSPENDED, ...); ACTIVE when the listing leaves it out"),
    ("joined_at", TIME, "JoinedTimestamp"),
)

AWS_SERVICE_ACCESS = table(
    "aws_service_access",
    "One row per service principal with trusted access to the organisation "
    "(`organizations:ListAWSServiceAccessForOrganization`).",
    ("account_id", STRING, "the management account"),
    ("service_principal", STRING, "e.g. member.org.stacksets.cloudformation.amazonaws.com"),
)

AWS_BUCKETS = table(
    "aws_buckets",
    "One row per S3 bucket (`s3:ListBuckets`), with the policy of the CloudFormation template buckets.",
    ("account_id", STRING, "AWS account id"),
    ("name", STRING, "bucket name"),
    ("policy", JSON, "the bucket policy as an object (`s3:GetBucketPolicy`, read for `cf-templates-*` buckets; an "
                     "absent Policy reads as {}); null when not read or not a JSON object: `aws_calls` says which"),
)

AWS_INSTANCES = table(
    "aws_instances",
    "One row per EC2 instance (`ec2:DescribeInstances`, every region).",
    ("account_id", STRING, "AWS account id"),
    ("region", STRING, "region of the call (else the instance's availability zone without its letter)"),
    ("instance_id", STRING, "InstanceId"),
    ("state", STRING, "State.Name, lower case (pending, running, stopping, stopped, ...); null when not given"),
    ("launched_at", TIME, "LaunchTime"),
    ("profile_arn", STRING, "IamInstanceProfile.Arn"),
    ("image_id", STRING, "ImageId"),
    ("platform_details", STRING, "PlatformDetails, e.g. Windows with SQL Server Standard"),
)

AWS_IMAGES = table(
    "aws_images",
    "One row per AMI the instances use (`ec2:DescribeImages`, every region with instances).",
    ("account_id", STRING, "AWS account id"),
    ("region", STRING, "region of the call"),
    ("image_id", STRING, "ImageId"),
    ("name", STRING, "image name"),
    ("description", STRING, "image description"),
    ("platform_details", STRING, "PlatformDetails"),
)

AWS_SSM_INSTANCES = table(
    "aws_ssm_instances",
    "One row per instance managed by SSM (`ssm:DescribeInstanceInformation`, every region).",
    ("account_id", STRING, "AWS account id"),
    ("region", STRING, "region of the call"),
    ("instance_id", STRING, "InstanceId"),
    ("ping_status", STRING, "PingStatus: Online, ConnectionLost, Inactive"),
)

AWS_EKS_CLUSTERS = table(
    "aws_eks_clusters",
    "One row per EKS cluster (`eks:ListClusters`, every region).",
    ("account_id", STRING, "AWS account id"),
    ("region", STRING, "region of the call"),
    ("name", STRING, "cluster name"),
)

AWS_DB_INSTANCES = table(
    "aws_db_instances",
    "One row per RDS instance (`rds:DescribeDBInstances`, every region).",
    ("account_id", STRING, "AWS account id"),
    ("region", STRING, "region of the call"),
    ("db_instance_id", STRING, "DBInstanceIdentifier"),
    ("arn", STRING, "DBInstanceArn"),
    ("engine", STRING, "Engine, e.g. postgres, custom-sqlserver-se"),
    ("status", STRING, "DBInstanceStatus, e.g. available, stopped"),
)
