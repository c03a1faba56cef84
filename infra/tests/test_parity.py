"""template.yaml (SAM) and infra/terraform/modules/shopstream (Terraform) describe the same
deployment: same functions, triggers, tables, queues, alarms, bus, topic, bucket, roles and
defaults. Run with the infra venv's Python (scripts/check-infra.sh does):

    python infra/tests/test_parity.py        # prints "N passed, M failed"

When a later issue adds a function or resource, add it to both templates and to
CORRESPONDENCE below; the resource-set test fails until all three agree.
"""

from __future__ import annotations

import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import model  # noqa: E402
from model import all_blocks, block, strip_log_suffix  # noqa: E402

SAM = model.load_sam()
TF = model.Terraform()

# SAM logical id -> Terraform addresses (the first is the main resource; the others are the
# pieces Terraform splits it into). Alarms are matched by name instead (see test_alarms).
CORRESPONDENCE: dict[str, list[str]] = {
    "DataKey": ["aws_kms_key.data"],
    "DataKeyAlias": ["aws_kms_alias.data"],
    "AccessLogsBucket": [
        "aws_s3_bucket.access_logs",
        "aws_s3_bucket_server_side_encryption_configuration.access_logs",
        "aws_s3_bucket_ownership_controls.access_logs",
        "aws_s3_bucket_public_access_block.access_logs",
        "aws_s3_bucket_lifecycle_configuration.access_logs",
    ],
    "AccessLogsBucketPolicy": ["aws_s3_bucket_policy.access_logs"],
    "LakeBucket": [
        "aws_s3_bucket.lake",
        "aws_s3_bucket_server_side_encryption_configuration.lake",
        "aws_s3_bucket_versioning.lake",
        "aws_s3_bucket_ownership_controls.lake",
        "aws_s3_bucket_public_access_block.lake",
        "aws_s3_bucket_logging.lake",
        "aws_s3_bucket_notification.lake",
        "aws_s3_bucket_lifecycle_configuration.lake",
    ],
    "LakeBucketPolicy": ["aws_s3_bucket_policy.lake"],
    "EventStream": ["aws_kinesis_stream.events"],
    "EventStreamConsumer": ["aws_kinesis_stream_consumer.stream_enrich"],
    "OrdersTable": ["aws_dynamodb_table.orders"],
    "ProfilesTable": ["aws_dynamodb_table.profiles"],
    "VelocityTable": ["aws_dynamodb_table.velocity"],
    "IdempotencyTable": ["aws_dynamodb_table.idempotency"],
    "BatchesTable": ["aws_dynamodb_table.batches"],
    "StreamEnrichDlq": ["aws_sqs_queue.stream_enrich_dlq"],
    "OrdersToBronzeDlq": ["aws_sqs_queue.orders_to_bronze_dlq"],
    "EventsDlq": ["aws_sqs_queue.events_dlq"],
    "EventsDlqPolicy": ["aws_sqs_queue_policy.events_dlq"],
    "AlarmTopic": ["aws_sns_topic.alarms"],
    "AlarmTopicPolicy": ["aws_sns_topic_policy.alarms"],
    "AlarmEmailSubscription": ["aws_sns_topic_subscription.alarm_email"],
    "EventBus": ["aws_cloudwatch_event_bus.shopstream"],
    "EventBusArchive": ["aws_cloudwatch_event_archive.shopstream"],
    "IngestApiLogGroup": ["aws_cloudwatch_log_group.ingest_api"],
    "StreamEnrichLogGroup": ["aws_cloudwatch_log_group.stream_enrich"],
    "OrdersToBronzeLogGroup": ["aws_cloudwatch_log_group.orders_to_bronze"],
    "GoldTransformLogGroup": ["aws_cloudwatch_log_group.gold_transform"],
    "QuarantineReplayLogGroup": ["aws_cloudwatch_log_group.quarantine_replay"],
    "S3CleanupLogGroup": ["aws_cloudwatch_log_group.s3_cleanup"],
    "EmrLaunchLogGroup": ["aws_cloudwatch_log_group.emr_launch"],
    "ApiAccessLogGroup": ["aws_cloudwatch_log_group.api_access"],
    "IngestApiRole": ["aws_iam_role.ingest_api", "aws_iam_role_policy.ingest_api", "aws_iam_role_policy_attachment.ingest_api_vpc"],
    "StreamEnrichRole": ["aws_iam_role.stream_enrich", "aws_iam_role_policy.stream_enrich", "aws_iam_role_policy_attachment.stream_enrich_vpc"],
    "OrdersToBronzeRole": ["aws_iam_role.orders_to_bronze", "aws_iam_role_policy.orders_to_bronze"],
    "GoldTransformRole": ["aws_iam_role.gold_transform", "aws_iam_role_policy.gold_transform"],
    "QuarantineReplayRole": ["aws_iam_role.quarantine_replay", "aws_iam_role_policy.quarantine_replay", "aws_iam_role_policy_attachment.quarantine_replay_vpc"],
    "S3CleanupRole": ["aws_iam_role.s3_cleanup", "aws_iam_role_policy.s3_cleanup"],
    "IngestApiFunction": ["aws_lambda_function.ingest_api"],
    "StreamEnrichFunction": ["aws_lambda_function.stream_enrich"],
    "OrdersToBronzeFunction": ["aws_lambda_function.orders_to_bronze"],
    "GoldTransformFunction": ["aws_lambda_function.gold_transform"],
    "QuarantineReplayFunction": ["aws_lambda_function.quarantine_replay"],
    "S3CleanupFunction": ["aws_lambda_function.s3_cleanup"],
    "EmrLaunchRole": ["aws_iam_role.emr_launch", "aws_iam_role_policy.emr_launch"],
    "EmrLaunchFunction": ["aws_lambda_function.emr_launch"],
    "EmrServerlessJobRunStatusRule": ["aws_cloudwatch_event_rule.emr_serverless_job_run_status", "aws_cloudwatch_event_target.emr_serverless_job_run_status"],
    "EmrLaunchRule": ["aws_cloudwatch_event_rule.emr_launch", "aws_cloudwatch_event_target.emr_launch"],
    "EmrLaunchInvokePermission": ["aws_lambda_permission.events_invoke_emr_launch"],
    "StreamEnrichKinesisMapping": ["aws_lambda_event_source_mapping.stream_enrich_kinesis"],
    "StreamEnrichMskMapping": ["aws_lambda_event_source_mapping.stream_enrich_msk"],
    "StreamEnrichSelfManagedKafkaMapping": ["aws_lambda_event_source_mapping.stream_enrich_self_managed_kafka"],
    "OrdersToBronzeMapping": ["aws_lambda_event_source_mapping.orders_to_bronze"],
    "HttpApi": ["aws_apigatewayv2_api.http"],
    "HttpApiStage": ["aws_apigatewayv2_stage.default"],
    "HttpApiJwtAuthorizer": ["aws_apigatewayv2_authorizer.jwt"],
    "HttpApiIntegration": ["aws_apigatewayv2_integration.ingest_api"],
    "PostEventsRoute": ["aws_apigatewayv2_route.post_events"],
    "PostOrdersRoute": ["aws_apigatewayv2_route.post_orders"],
    "GetHealthRoute": ["aws_apigatewayv2_route.get_health"],
    "IngestApiInvokePermission": ["aws_lambda_permission.api_invokes_ingest_api"],
    "EventForwardRole": ["aws_iam_role.event_forward", "aws_iam_role_policy.event_forward"],
    "SchedulerRole": ["aws_iam_role.scheduler", "aws_iam_role_policy.scheduler"],
    "ManifestCreatedRule": ["aws_cloudwatch_event_rule.manifest_created", "aws_cloudwatch_event_target.manifest_created"],
    "EmrStepStatusRule": ["aws_cloudwatch_event_rule.emr_step_status", "aws_cloudwatch_event_target.emr_step_status"],
    "RedshiftStatementStatusRule": ["aws_cloudwatch_event_rule.redshift_statement_status", "aws_cloudwatch_event_target.redshift_statement_status"],
    "LoadFailedRule": ["aws_cloudwatch_event_rule.load_failed", "aws_cloudwatch_event_target.load_failed"],
    "TransformFailedRule": ["aws_cloudwatch_event_rule.transform_failed", "aws_cloudwatch_event_target.transform_failed"],
    "CleanupRule": ["aws_cloudwatch_event_rule.cleanup", "aws_cloudwatch_event_target.cleanup"],
    "S3CleanupInvokePermission": ["aws_lambda_permission.events_invoke_s3_cleanup"],
    "TransformSchedule": ["aws_scheduler_schedule.transform"],
    "TransformDueRule": ["aws_cloudwatch_event_rule.transform_due", "aws_cloudwatch_event_target.transform_due"],
    "GoldTransformInvokePermission": ["aws_lambda_permission.transform_due_invokes_gold_transform"],
    "CleanupSchedule": ["aws_scheduler_schedule.cleanup"],
    "EmrServiceRole": ["aws_iam_role.emr_service", "aws_iam_role_policy_attachment.emr_service", "aws_iam_role_policy.emr_service_pass_role"],
    "EmrInstanceRole": ["aws_iam_role.emr_instance", "aws_iam_role_policy.emr_instance"],
    "EmrInstanceProfile": ["aws_iam_instance_profile.emr_instance"],
    "RedshiftCopyRole": ["aws_iam_role.redshift_copy", "aws_iam_role_policy.redshift_copy"],
    "Dashboard": ["aws_cloudwatch_dashboard.shopstream"],
    "RedshiftCopyLogGroup": ["aws_cloudwatch_log_group.redshift_copy"],
    "RedshiftCopyFunctionRole": ["aws_iam_role.redshift_copy_function", "aws_iam_role_policy.redshift_copy_function"],
    "RedshiftCopyFunction": ["aws_lambda_function.redshift_copy"],
    "RedshiftCopyManifestRule": ["aws_cloudwatch_event_rule.redshift_copy_manifest", "aws_cloudwatch_event_target.redshift_copy_manifest"],
    "RedshiftCopyStatementRule": ["aws_cloudwatch_event_rule.redshift_copy_statement", "aws_cloudwatch_event_target.redshift_copy_statement"],
    "RedshiftCopySweepRule": ["aws_cloudwatch_event_rule.redshift_copy_sweep", "aws_cloudwatch_event_target.redshift_copy_sweep"],
    "RedshiftCopyManifestPermission": ["aws_lambda_permission.redshift_copy_manifest"],
    "RedshiftCopyStatementPermission": ["aws_lambda_permission.redshift_copy_statement"],
    "RedshiftCopySweepPermission": ["aws_lambda_permission.redshift_copy_sweep"],
    "LoadSweepSchedule": ["aws_scheduler_schedule.load_sweep"],
}

TYPES = {
    "AWS::KMS::Key": "aws_kms_key",
    "AWS::KMS::Alias": "aws_kms_alias",
    "AWS::S3::Bucket": "aws_s3_bucket",
    "AWS::S3::BucketPolicy": "aws_s3_bucket_policy",
    "AWS::Kinesis::Stream": "aws_kinesis_stream",
    "AWS::Kinesis::StreamConsumer": "aws_kinesis_stream_consumer",
    "AWS::DynamoDB::Table": "aws_dynamodb_table",
    "AWS::SQS::Queue": "aws_sqs_queue",
    "AWS::SQS::QueuePolicy": "aws_sqs_queue_policy",
    "AWS::SNS::Topic": "aws_sns_topic",
    "AWS::SNS::TopicPolicy": "aws_sns_topic_policy",
    "AWS::SNS::Subscription": "aws_sns_topic_subscription",
    "AWS::Events::EventBus": "aws_cloudwatch_event_bus",
    "AWS::Events::Archive": "aws_cloudwatch_event_archive",
    "AWS::Events::Rule": "aws_cloudwatch_event_rule",
    "AWS::Logs::LogGroup": "aws_cloudwatch_log_group",
    "AWS::IAM::Role": "aws_iam_role",
    "AWS::IAM::InstanceProfile": "aws_iam_instance_profile",
    "AWS::Serverless::Function": "aws_lambda_function",
    "AWS::Lambda::EventSourceMapping": "aws_lambda_event_source_mapping",
    "AWS::Lambda::Permission": "aws_lambda_permission",
    "AWS::ApiGatewayV2::Api": "aws_apigatewayv2_api",
    "AWS::ApiGatewayV2::Stage": "aws_apigatewayv2_stage",
    "AWS::ApiGatewayV2::Authorizer": "aws_apigatewayv2_authorizer",
    "AWS::ApiGatewayV2::Integration": "aws_apigatewayv2_integration",
    "AWS::ApiGatewayV2::Route": "aws_apigatewayv2_route",
    "AWS::Scheduler::Schedule": "aws_scheduler_schedule",
    "AWS::CloudWatch::Alarm": "aws_cloudwatch_metric_alarm",
    "AWS::CloudWatch::Dashboard": "aws_cloudwatch_dashboard",
}

# IAM statements allowed a "*" resource: X-Ray has no resource-level permissions.
# FollowOwnStatements: DescribeStatement / GetStatementResult have no resource-level
# permissions; a statement-owner condition scopes them instead. EmrWithoutResourceLevel:
# EMR's RunJobFlow and ListClusters have no resource-level permissions.
WILDCARD_SIDS = {"Tracing", "FollowOwnStatements", "EmrWithoutResourceLevel"}

NORM = model.Normaliser(SAM, TF, CORRESPONDENCE)
RESOURCES = SAM["Resources"]


def sam_of_type(cfn_type: str) -> dict[str, dict]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == cfn_type}


def tf_body(sam_id: str, index: int = 0) -> dict:
    return TF.resources[CORRESPONDENCE[sam_id][index]]


def props(sam_id: str) -> dict:
    return RESOURCES[sam_id].get("Properties", {})


def resolve_sam(value):
    """A SAM value with parameters replaced by their defaults (numbers as floats)."""
    if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in SAM["Parameters"]:
        return model.sam_default(SAM, value["Ref"])
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        text = re.sub(
            r"\$\{([A-Za-z0-9]+)\}",
            lambda m: _fmt(model.sam_default(SAM, m.group(1))) if m.group(1) in SAM["Parameters"] else m.group(0),
            value["Fn::Sub"],
        )
        return _num(text)
    return _num(value)


def resolve_tf(value):
    """A Terraform value with var.* replaced by defaults and local arithmetic evaluated."""
    if isinstance(value, str):
        m = re.fullmatch(r"\$\{var\.([a-z0-9_]+)\}", value)
        if m:
            return model.tf_default(TF, m.group(1))
        m = re.fullmatch(r"\$\{local\.([a-z0-9_]+)\}", value)
        if m:
            expr = TF.locals[m.group(1)]
            inner = expr[2:-1] if expr.startswith("${") else expr
            inner = re.sub(r"var\.([a-z0-9_]+)", lambda v: _fmt(model.tf_default(TF, v.group(1))), inner)
            if re.fullmatch(r"[0-9.\s*+\-/()]+", inner):
                return float(eval(inner))  # noqa: S307 - digits and operators only
    return _num(value)


def _fmt(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _num(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
        return float(value)
    return value


def sam_name(value) -> str:
    return NORM.sam(value)


def tf_name(value) -> str:
    return NORM.tf_value(value)


def hcl_object_to_json(expr: str):
    """`${jsonencode({a = ["x"], b = {c = aws_s3_bucket.lake.id}})}` -> Python, refs normalised."""
    inner = expr.strip()
    inner = inner[len("${jsonencode("):-2] if inner.startswith("${jsonencode(") else inner
    inner = re.sub(
        r"\b((?:aws)_[a-z0-9_]+\.[a-z0-9_]+)\.[a-z_]+\b",
        lambda m: json.dumps(f"<{NORM.address_to_sam.get(m.group(1), m.group(1))}>"),
        inner,
    )
    inner = re.sub(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_-]*)\s*=", r'\1"\2":', inner)
    return json.loads(inner)


def statements_sam(policy_document) -> dict[str, dict]:
    out = {}
    for st in policy_document["Statement"]:
        conditional = False
        if isinstance(st, dict) and "Fn::If" in st:
            conditional = True
            st = st["Fn::If"][1]
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        out[st["Sid"]] = {
            "actions": set(actions),
            "resources": sorted(strip_log_suffix(str(sam_name(r))) for r in resources),
            "conditional": conditional,
        }
    return out


def statements_tf(document_address: str) -> dict[str, dict]:
    doc = TF.data[document_address]
    out = {}
    for st in doc.get("statement", []):
        out[st["sid"]] = {"actions": set(st["actions"]), "resources": st["resources"], "conditional": False}
    for st in model.dynamic_blocks(doc, "statement"):
        out[st["sid"]] = {"actions": set(st["actions"]), "resources": st["resources"], "conditional": True}
    for sid, st in out.items():
        st["resources"] = sorted(strip_log_suffix(str(tf_name(r))) for r in st["resources"])
    return out


def policy_document_of(address: str) -> str:
    body = TF.resources[address]
    policy = body.get("policy") or body.get("assume_role_policy")
    assert isinstance(policy, str), address
    m = re.fullmatch(r"\$\{(data\.aws_iam_policy_document\.[a-z0-9_]+)\.json\}", policy)
    assert m, f"{address}: policy is not an aws_iam_policy_document"
    return m.group(1)[len("data."):]


class ResourceSets(unittest.TestCase):
    def test_every_sam_resource_has_its_terraform_counterpart(self):
        alarms = set(sam_of_type("AWS::CloudWatch::Alarm"))
        missing = sorted(set(RESOURCES) - alarms - set(CORRESPONDENCE))
        self.assertEqual(missing, [], "SAM resources without a CORRESPONDENCE entry")
        for sam_id, addresses in CORRESPONDENCE.items():
            self.assertIn(sam_id, RESOURCES, f"{sam_id} is in CORRESPONDENCE but not in template.yaml")
            for address in addresses:
                self.assertIn(address, TF.resources, f"{sam_id}: Terraform has no {address}")
            expected = TYPES[RESOURCES[sam_id]["Type"]]
            self.assertTrue(addresses[0].startswith(expected + "."), f"{sam_id} is {expected}, not {addresses[0]}")

    def test_every_terraform_resource_is_accounted_for(self):
        mapped = {a for addresses in CORRESPONDENCE.values() for a in addresses}
        alarms = set(TF.of_type("aws_cloudwatch_metric_alarm"))
        unmapped = sorted(set(TF.resources) - mapped - alarms)
        self.assertEqual(unmapped, [], "Terraform resources with no SAM counterpart")
        duplicates = [a for a in mapped if sum(a in v for v in CORRESPONDENCE.values()) > 1]
        self.assertEqual(duplicates, [])

    def test_conditional_resources_match(self):
        for sam_id, addresses in CORRESPONDENCE.items():
            sam_conditional = "Condition" in RESOURCES[sam_id]
            tf_conditional = "count" in TF.resources[addresses[0]]
            self.assertEqual(sam_conditional, tf_conditional, f"{sam_id} / {addresses[0]}: conditional on one side only")

    def test_every_function_package_is_deployed(self):
        packages = sorted(p.parent.name for p in (model.ROOT / "functions").glob("*/Cargo.toml"))
        sam_functions = sorted(p["Properties"]["CodeUri"].split("/")[-1] for p in sam_of_type("AWS::Serverless::Function").values())
        tf_functions = sorted(
            re.search(r"/([a-z0-9-]+)/bootstrap\.zip", b["filename"]).group(1) for b in TF.of_type("aws_lambda_function").values()
        )
        self.assertEqual(sam_functions, packages, "every functions/<name> package is a SAM function")
        self.assertEqual(tf_functions, packages, "every functions/<name> package is a Terraform function")


class Functions(unittest.TestCase):
    def test_runtime_architecture_build_and_sizing(self):
        globals_ = SAM["Globals"]["Function"]
        for sam_id, res in sam_of_type("AWS::Serverless::Function").items():
            p = {**globals_, **res["Properties"]}
            tf = tf_body(sam_id)
            package = p["CodeUri"].split("/")[-1]
            with self.subTest(function=package):
                self.assertEqual(p["Runtime"], "provided.al2023")
                self.assertEqual(p["Architectures"], ["arm64"])
                self.assertEqual(res["Metadata"]["BuildMethod"], "rust-cargolambda")
                self.assertEqual(res["Metadata"]["BuildProperties"]["Binary"], package)
                self.assertEqual(sam_name(p["FunctionName"]), f"shopstream-<env>-{package}")
                self.assertEqual(tf_name(tf["function_name"]), f"shopstream-<env>-{package}")
                self.assertEqual(tf["runtime"], p["Runtime"])
                self.assertEqual(tf["architectures"], p["Architectures"])
                self.assertEqual(tf["handler"], p["Handler"])
                self.assertEqual(float(tf["memory_size"]), float(p["MemorySize"]))
                self.assertEqual(float(tf["timeout"]), float(p["Timeout"]))
                self.assertEqual(block(tf, "tracing_config")["mode"], p["Tracing"])
                self.assertEqual(block(tf, "logging_config")["log_format"], p["LoggingConfig"]["LogFormat"])
                self.assertEqual(tf_name(block(tf, "logging_config")["log_group"]), sam_name(p["LoggingConfig"]["LogGroup"]))
                self.assertEqual(tf_name(tf["role"]), sam_name(p["Role"]))
                self.assertEqual(tf_name(tf["kms_key_arn"]), sam_name(p["KmsKeyArn"]))
                self.assertEqual("vpc_config" in str(tf.get("dynamic", "")), "VpcConfig" in p, "VPC config on one side only")

    def test_environment_variables_match(self):
        for sam_id, res in sam_of_type("AWS::Serverless::Function").items():
            sam_vars = res["Properties"]["Environment"]["Variables"]
            tf_keys = self._tf_env_keys(tf_body(sam_id))
            with self.subTest(function=sam_id):
                self.assertEqual(tf_keys, set(sam_vars))

    def test_kafka_credentials_are_never_in_the_environment(self):
        """ingest-api reads its Kafka SASL credentials from Secrets Manager at cold start: both
        templates pass only the secret's ARN, and Terraform never reads the secret (which would
        put it in the state)."""
        sam_vars = props("IngestApiFunction")["Environment"]["Variables"]
        tf_keys = self._tf_env_keys(tf_body("IngestApiFunction"))
        for keys in (set(sam_vars), tf_keys):
            self.assertIn("KAFKA_SASL_SECRET_ARN", keys)
            self.assertFalse({"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"} & keys)
        self.assertNotIn("resolve:secretsmanager", json.dumps(sam_vars))
        self.assertFalse([d for d in TF.data if d.startswith("aws_secretsmanager_secret_version.")])

    def test_environment_variables_are_ones_the_functions_read(self):
        """Every variable the templates set is documented by the function (its README's table)
        or by the core's shared configuration (root README), so a misspelt name fails here
        rather than silently at cold start."""
        shared = (model.ROOT / "README.md").read_text()
        for res in sam_of_type("AWS::Serverless::Function").values():
            package = res["Properties"]["CodeUri"].split("/")[-1]
            readme = model.ROOT / "functions" / package / "README.md"
            documented = (readme.read_text() if readme.exists() else "") + shared
            for name in res["Properties"]["Environment"]["Variables"]:
                with self.subTest(function=package, variable=name):
                    self.assertIn(f"`{name}`", documented)

    @staticmethod
    def _tf_env_keys(tf: dict) -> set[str]:
        text = str(block(tf, "environment").get("variables"))
        keys = set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", text))
        keys |= set(re.findall(r"'([A-Z][A-Z0-9_]+)':", text))
        for local in re.findall(r"local\.([a-z0-9_]+)", text):
            keys |= set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", str(TF.locals.get(local, ""))))
        return keys


class EventSourceMappings(unittest.TestCase):
    FIELDS = {
        "BatchSize": "batch_size",
        "MaximumBatchingWindowInSeconds": "maximum_batching_window_in_seconds",
        "ParallelizationFactor": "parallelization_factor",
        "StartingPosition": "starting_position",
        "BisectBatchOnFunctionError": "bisect_batch_on_function_error",
        "MaximumRetryAttempts": "maximum_retry_attempts",
        "MaximumRecordAgeInSeconds": "maximum_record_age_in_seconds",
    }

    def test_mappings_match_and_are_bounded(self):
        mappings = sam_of_type("AWS::Lambda::EventSourceMapping")
        self.assertGreaterEqual(len(mappings), 2)
        for sam_id, res in mappings.items():
            p, tf = res["Properties"], tf_body(sam_id)
            with self.subTest(mapping=sam_id):
                self.assertEqual(tf_name(tf["function_name"]), sam_name(p["FunctionName"]))
                for sam_field, tf_field in self.FIELDS.items():
                    self.assertEqual(sam_field in p, tf_field in tf, f"{sam_field} on one side only")
                    if sam_field in p:
                        self.assertEqual(resolve_tf(tf[tf_field]), resolve_sam(p[sam_field]), sam_field)
                # DESIGN.md "Reliability": partial batch responses, bisect, bounded retries and
                # record age, on-failure SQS destination.
                self.assertEqual(p["FunctionResponseTypes"], ["ReportBatchItemFailures"])
                self.assertEqual(tf["function_response_types"], ["ReportBatchItemFailures"])
                self.assertIs(p["BisectBatchOnFunctionError"], True)
                retries = resolve_sam(p["MaximumRetryAttempts"])
                self.assertTrue(0 <= retries <= 10000, "retries must be bounded (not -1)")
                age = resolve_sam(p["MaximumRecordAgeInSeconds"])
                self.assertTrue(60 <= age <= 604800, "record age must be bounded (not -1)")
                for name in ("StreamMaximumRetryAttempts", "OrdersMaximumRetryAttempts"):
                    self.assertGreaterEqual(float(SAM["Parameters"][name]["MinValue"]), 0)
                destination = p["DestinationConfig"]["OnFailure"]["Destination"]
                self.assertEqual(RESOURCES[destination["Fn::GetAtt"][0]]["Type"], "AWS::SQS::Queue")
                tf_destination = block(block(tf, "destination_config"), "on_failure")["destination_arn"]
                self.assertEqual(tf_name(tf_destination), sam_name(destination))
                if "Topics" in p:  # Kafka: error handling needs provisioned mode
                    self.assertIn("ProvisionedPollerConfig", p)
                    self.assertTrue(block(tf, "provisioned_poller_config"))
                    self.assertEqual([tf_name(t) for t in tf["topics"]], [sam_name(t) for t in p["Topics"]])

    def test_every_stream_function_has_a_mapping_and_dlq(self):
        fns = {m["Properties"]["FunctionName"]["Ref"] for m in sam_of_type("AWS::Lambda::EventSourceMapping").values()}
        self.assertEqual(fns, {"StreamEnrichFunction", "OrdersToBronzeFunction"})


class Tables(unittest.TestCase):
    def test_tables_match(self):
        for sam_id, res in sam_of_type("AWS::DynamoDB::Table").items():
            p, tf = res["Properties"], tf_body(sam_id)
            with self.subTest(table=sam_id):
                self.assertEqual(tf_name(tf["name"]), sam_name(p["TableName"]))
                self.assertEqual(tf["billing_mode"], p["BillingMode"])
                (key,) = p["KeySchema"]
                self.assertEqual(tf["hash_key"], key["AttributeName"])
                self.assertEqual(
                    {(a["name"], a["type"]) for a in tf["attribute"]},
                    {(a["AttributeName"], a["AttributeType"]) for a in p["AttributeDefinitions"]},
                )
                stream = p.get("StreamSpecification", {}).get("StreamViewType")
                self.assertEqual(tf.get("stream_view_type"), stream)
                self.assertEqual(bool(tf.get("stream_enabled", False)), stream is not None)
                ttl = p.get("TimeToLiveSpecification", {}).get("AttributeName")
                self.assertEqual(block(tf, "ttl").get("attribute_name"), ttl)
                self.assertIs(block(tf, "point_in_time_recovery")["enabled"], True)
                self.assertIs(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], True)
                self.assertEqual(tf_name(block(tf, "server_side_encryption")["kms_key_arn"]), sam_name(p["SSESpecification"]["KMSMasterKeyId"]))
        names = {sam_name(r["Properties"]["TableName"]) for r in sam_of_type("AWS::DynamoDB::Table").values()}
        self.assertEqual(
            names,
            {"shopstream-<env>-purchase-orders", "shopstream-<env>-customer-profiles", "shopstream-<env>-idempotency", "shopstream-<env>-batches", "shopstream-<env>-order-velocity"},
        )

    def test_batch_ledger_index(self):
        """shopstream::ledger lists batches by state through the by_state index."""
        (index,) = props("BatchesTable")["GlobalSecondaryIndexes"]
        tf_index = block(tf_body("BatchesTable"), "global_secondary_index")
        self.assertEqual(index["IndexName"], "by_state")
        self.assertEqual(tf_index["name"], index["IndexName"])
        keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
        self.assertEqual((tf_index["hash_key"], tf_index["range_key"]), (keys["HASH"], keys["RANGE"]))
        self.assertEqual(tf_index["projection_type"], index["Projection"]["ProjectionType"])


class QueuesTopicBusBucket(unittest.TestCase):
    def test_queues(self):
        for sam_id, res in sam_of_type("AWS::SQS::Queue").items():
            p, tf = res["Properties"], tf_body(sam_id)
            with self.subTest(queue=sam_id):
                self.assertEqual(tf_name(tf["name"]), sam_name(p["QueueName"]))
                self.assertEqual(float(tf["message_retention_seconds"]), float(p["MessageRetentionPeriod"]))
                self.assertEqual(tf_name(tf["kms_master_key_id"]), sam_name(p["KmsMasterKeyId"]))

    def test_topic_bus_and_archive(self):
        self.assertEqual(tf_name(tf_body("AlarmTopic")["name"]), sam_name(props("AlarmTopic")["TopicName"]))
        self.assertEqual(tf_name(tf_body("AlarmTopic")["kms_master_key_id"]), "<DataKey>")
        self.assertEqual(tf_name(tf_body("EventBus")["name"]), sam_name(props("EventBus")["Name"]))
        self.assertEqual(float(tf_body("EventBusArchive")["retention_days"]), float(props("EventBusArchive")["RetentionDays"]))

    def test_lake_bucket(self):
        p = props("LakeBucket")
        self.assertEqual(p["VersioningConfiguration"]["Status"], "Enabled")
        self.assertEqual(block(tf_body("LakeBucket", 2), "versioning_configuration")["status"], "Enabled")
        sse = p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        tf_sse = block(tf_body("LakeBucket", 1), "rule")
        self.assertEqual(sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "aws:kms")
        self.assertEqual(block(tf_sse, "apply_server_side_encryption_by_default")["sse_algorithm"], "aws:kms")
        self.assertEqual(tf_name(block(tf_sse, "apply_server_side_encryption_by_default")["kms_master_key_id"]), "<DataKey>")
        pab = tf_body("LakeBucket", 4)
        for key in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            self.assertIs(pab[key], True, key)
        self.assertTrue(all(p["PublicAccessBlockConfiguration"].values()))
        self.assertIs(p["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"], True)
        self.assertIs(tf_body("LakeBucket", 6)["eventbridge"], True)
        sam_rules = {
            r["Id"]: (r.get("Prefix"), resolve_sam(r.get("ExpirationInDays")))
            for r in p["LifecycleConfiguration"]["Rules"]
        }
        tf_rules = {
            r["id"]: (block(r, "filter").get("prefix"), resolve_tf(block(r, "expiration").get("days")))
            for r in tf_body("LakeBucket", 7)["rule"]
        }
        self.assertEqual(tf_rules, sam_rules)

    def test_bucket_policies_deny_insecure_transport(self):
        for sam_id in ("LakeBucketPolicy", "AccessLogsBucketPolicy"):
            sids = {s["Sid"] for s in props(sam_id)["PolicyDocument"]["Statement"]}
            self.assertIn("DenyInsecureTransport", sids)
            tf_sids = set(statements_tf(policy_document_of(CORRESPONDENCE[sam_id][0])))
            self.assertEqual(tf_sids, sids)


def resource_policy_sam(document: dict) -> dict:
    out = {}
    for st in document["Statement"]:
        principal = st["Principal"]
        if isinstance(principal, dict):
            principal = [str(sam_name(p)) for v in principal.values() for p in (v if isinstance(v, list) else [v])]
        else:
            principal = [principal]
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        conditions = sorted(k for test in st.get("Condition", {}).values() for k in test)
        out[st["Sid"]] = (st["Effect"], sorted(actions), sorted(principal), conditions)
    return out


def resource_policy_tf(document_address: str) -> dict:
    out = {}
    for st in TF.data[document_address]["statement"]:
        principal = sorted(str(tf_name(i)) for p in st["principals"] for i in p["identifiers"])
        conditions = sorted(c["variable"] for c in st.get("condition", []))
        out[st["sid"]] = (st.get("effect", "Allow"), sorted(st["actions"]), principal, conditions)
    return out


class ResourcePolicies(unittest.TestCase):
    """Key, bucket, queue and topic policies: same statements, principals and condition keys."""

    def test_resource_policies_match(self):
        pairs = {
            "DataKey": ("KeyPolicy", "aws_iam_policy_document.data_key"),
            "LakeBucketPolicy": ("PolicyDocument", policy_document_of("aws_s3_bucket_policy.lake")),
            "AccessLogsBucketPolicy": ("PolicyDocument", policy_document_of("aws_s3_bucket_policy.access_logs")),
            "EventsDlqPolicy": ("PolicyDocument", policy_document_of("aws_sqs_queue_policy.events_dlq")),
            "AlarmTopicPolicy": ("PolicyDocument", policy_document_of("aws_sns_topic_policy.alarms")),
        }
        for sam_id, (field, address) in pairs.items():
            with self.subTest(policy=sam_id):
                self.assertEqual(resource_policy_tf(address), resource_policy_sam(props(sam_id)[field]))

    def test_eventbridge_key_grant_has_no_source_conditions(self):
        """EventBridge's KMS calls carry no aws:SourceAccount/SourceArn; a condition drops deliveries."""
        for sid, (_, _, principals, conditions) in resource_policy_sam(props("DataKey")["KeyPolicy"]).items():
            if "events.amazonaws.com" in principals:
                self.assertEqual(conditions, [], sid)


class Iam(unittest.TestCase):
    def _roles(self):
        for sam_id, res in sam_of_type("AWS::IAM::Role").items():
            yield sam_id, res["Properties"], CORRESPONDENCE[sam_id]

    def test_roles_have_the_same_statements(self):
        for sam_id, p, addresses in self._roles():
            sam_statements: dict[str, dict] = {}
            for policy in p.get("Policies", []):
                sam_statements.update(statements_sam(policy["PolicyDocument"]))
            tf_statements: dict[str, dict] = {}
            for address in addresses[1:]:
                if address.startswith("aws_iam_role_policy."):
                    tf_statements.update(statements_tf(policy_document_of(address)))
            with self.subTest(role=sam_id):
                self.assertEqual(set(tf_statements), set(sam_statements), "statement ids")
                for sid, st in sam_statements.items():
                    self.assertEqual(tf_statements[sid]["actions"], st["actions"], f"{sid} actions")
                    self.assertEqual(tf_statements[sid]["conditional"], st["conditional"], f"{sid} conditional")
                    if not any("<expr>" in r or "<local." in r for r in st["resources"] + tf_statements[sid]["resources"]):
                        self.assertEqual(tf_statements[sid]["resources"], st["resources"], f"{sid} resources")
                    else:
                        self.assertEqual(len(tf_statements[sid]["resources"]), len(st["resources"]), f"{sid} resources")

    def test_trust_and_managed_policies(self):
        for sam_id, p, addresses in self._roles():
            trust = p["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
            trust = set(trust if isinstance(trust, list) else [trust])
            doc = TF.data[policy_document_of(addresses[0])]
            tf_trust = {i for st in doc["statement"] for pr in st["principals"] for i in pr["identifiers"]}
            sam_managed = {
                re.sub(r".*policy/", "", sam_name(m)["then"] if isinstance(sam_name(m), dict) else sam_name(m))
                for m in p.get("ManagedPolicyArns", [])
            }
            tf_managed = set()
            for address in addresses[1:]:
                if address.startswith("aws_iam_role_policy_attachment."):
                    arn = TF.resources[address]["policy_arn"]
                    arn = TF.locals.get(arn[len("${local."):-1], arn) if arn.startswith("${local.") else arn
                    tf_managed.add(re.sub(r".*policy/", "", arn))
            with self.subTest(role=sam_id):
                self.assertEqual(tf_trust, trust)
                self.assertEqual(tf_managed, sam_managed)

    def test_least_privilege(self):
        """No "*" resource except for actions that have no resource-level permissions."""
        for sam_id, p, _ in self._roles():
            for policy in p.get("Policies", []):
                for sid, st in statements_sam(policy["PolicyDocument"]).items():
                    if "*" in st["resources"]:
                        self.assertIn(sid, WILDCARD_SIDS, f"{sam_id}/{sid} uses a * resource")
                    self.assertFalse(any(a.endswith(":*") or a == "*" for a in st["actions"]), f"{sam_id}/{sid}: wildcard action")
        for address, doc in TF.data.items():
            if not address.startswith("aws_iam_policy_document.") or address == "aws_iam_policy_document.data_key":
                continue
            for st in doc.get("statement", []) + model.dynamic_blocks(doc, "statement"):
                if "*" in st.get("resources", []):
                    self.assertIn(st.get("sid"), WILDCARD_SIDS, f"{address}/{st.get('sid')} uses a * resource")

    def test_each_function_has_its_own_role(self):
        roles = [sam_name(r["Properties"]["Role"]) for r in sam_of_type("AWS::Serverless::Function").values()]
        self.assertEqual(len(roles), len(set(roles)))


class Alarms(unittest.TestCase):
    def _sam(self):
        out = {}
        for sam_id, res in sam_of_type("AWS::CloudWatch::Alarm").items():
            p = res["Properties"]
            name = sam_name(p["AlarmName"]).replace("shopstream-<env>-", "")
            out[name] = {
                "namespace": p["Namespace"],
                "metric": p["MetricName"],
                "statistic": p["Statistic"],
                "period": float(p["Period"]),
                "evaluation": float(p["EvaluationPeriods"]),
                "datapoints": float(p.get("DatapointsToAlarm", p["EvaluationPeriods"])),
                "threshold": resolve_sam(p["Threshold"]),
                "comparison": p["ComparisonOperator"],
                "missing": p["TreatMissingData"],
                "dimensions": {d["Name"]: sam_name(d["Value"]) for d in p["Dimensions"]},
                "actions": [sam_name(a) for a in p["AlarmActions"]],
                "conditional": "Condition" in res,
            }
        return out

    def _tf(self):
        out = {}
        for address, tf in TF.of_type("aws_cloudwatch_metric_alarm").items():
            name = tf_name(tf["alarm_name"]).replace("shopstream-<env>-", "")
            out[name] = {
                "namespace": tf["namespace"],
                "metric": tf["metric_name"],
                "statistic": tf["statistic"],
                "period": float(tf["period"]),
                "evaluation": float(tf["evaluation_periods"]),
                "datapoints": float(tf.get("datapoints_to_alarm", tf["evaluation_periods"])),
                "threshold": resolve_tf(tf["threshold"]),
                "comparison": tf["comparison_operator"],
                "missing": tf["treat_missing_data"],
                "dimensions": {k: tf_name(v) for k, v in tf["dimensions"].items()},
                "actions": [tf_name(a) for a in tf["alarm_actions"]],
                "conditional": "count" in tf,
            }
        return out

    def test_same_alarms(self):
        sam, tf = self._sam(), self._tf()
        self.assertEqual(sorted(tf), sorted(sam))
        for name in sam:
            with self.subTest(alarm=name):
                self.assertEqual(tf[name], sam[name])

    def test_required_alarms(self):
        """DESIGN.md "Observability": rejection rate > 5 %, iterator age, errors, throttles,
        DLQ depth, failed loads - all to the alarms topic."""
        sam = self._sam()
        for alarm in sam.values():
            self.assertEqual(alarm["actions"], ["<AlarmTopic>"])
        packages = [r["Properties"]["CodeUri"].split("/")[-1] for r in sam_of_type("AWS::Serverless::Function").values()]
        for fn in packages:
            self.assertEqual(sam[f"{fn}-errors"]["metric"], "Errors")
            self.assertEqual(sam[f"{fn}-throttles"]["metric"], "Throttles")
        for fn in ("ingest-api", "stream-enrich"):
            alarm = sam[f"{fn}-rejection-rate"]
            self.assertEqual((alarm["namespace"], alarm["metric"]), ("shopstream", "RejectionRate"))
            self.assertEqual(alarm["dimensions"], {"Function": fn})
            self.assertEqual(alarm["threshold"], 5.0)
            self.assertEqual(alarm["comparison"], "GreaterThanThreshold")
        for fn in ("stream-enrich", "orders-to-bronze"):
            self.assertEqual(sam[f"{fn}-iterator-age"]["metric"], "IteratorAge")
        for queue in sam_of_type("AWS::SQS::Queue"):
            depth = [a for a in sam.values() if a["dimensions"].get("QueueName") == f"<{queue}>"]
            self.assertEqual(len(depth), 1, f"{queue} needs a depth alarm")
        self.assertIn("load-failed", sam)


class EventBridge(unittest.TestCase):
    def test_rules(self):
        for sam_id, res in sam_of_type("AWS::Events::Rule").items():
            p = res["Properties"]
            rule, target = tf_body(sam_id, 0), tf_body(sam_id, 1)
            (sam_target,) = p["Targets"]
            with self.subTest(rule=sam_id):
                self.assertEqual(tf_name(rule["name"]), sam_name(p["Name"]))
                self.assertEqual(hcl_object_to_json(rule["event_pattern"]), sam_name(p["EventPattern"]))
                self.assertEqual(rule.get("state"), p["State"])
                self.assertEqual(target["target_id"], sam_target["Id"])
                self.assertEqual(tf_name(target["arn"]), sam_name(sam_target["Arn"]))
                self.assertEqual(tf_name(target.get("role_arn")), sam_name(sam_target.get("RoleArn")))
                self.assertEqual(tf_name(block(target, "dead_letter_config")["arn"]), sam_name(sam_target["DeadLetterConfig"]["Arn"]))
                if "InputTransformer" in sam_target:
                    transformer = block(target, "input_transformer")
                    self.assertEqual(transformer["input_paths"], sam_target["InputTransformer"]["InputPathsMap"])
                    self.assertEqual(transformer["input_template"], sam_target["InputTransformer"]["InputTemplate"])

    def test_manifest_rule_watches_gold_manifests(self):
        pattern = props("ManifestCreatedRule")["EventPattern"]
        self.assertEqual(pattern["detail"]["object"]["key"], [{"prefix": "gold/_manifests/"}])

    def test_schedules(self):
        for sam_id, res in sam_of_type("AWS::Scheduler::Schedule").items():
            p, tf = res["Properties"], tf_body(sam_id)
            target = block(tf, "target")
            with self.subTest(schedule=sam_id):
                self.assertEqual(tf_name(tf["name"]), sam_name(p["Name"]))
                self.assertEqual(resolve_tf(tf["schedule_expression"]), resolve_sam(p["ScheduleExpression"]))
                self.assertEqual(tf_name(target["arn"]), sam_name(p["Target"]["Arn"]))
                params = block(target, "eventbridge_parameters")
                self.assertEqual(params["detail_type"], p["Target"]["EventBridgeParameters"]["DetailType"])
                self.assertEqual(params["source"], p["Target"]["EventBridgeParameters"]["Source"])
                self.assertEqual(json.loads(json.dumps(hcl_object_to_json(target["input"]))), json.loads(p["Target"]["Input"]))


class HttpApi(unittest.TestCase):
    def test_routes_and_authorisation(self):
        sam_routes = {
            r["Properties"]["RouteKey"]: sam_name(r["Properties"]["AuthorizationType"])
            for r in sam_of_type("AWS::ApiGatewayV2::Route").values()
        }
        tf_routes = {
            b["route_key"]: b["authorization_type"] for b in TF.of_type("aws_apigatewayv2_route").values()
        }
        self.assertEqual(set(tf_routes), set(sam_routes))
        self.assertEqual(set(sam_routes), {"POST /v1/events", "POST /v1/orders", "GET /v1/health"})
        for key in ("POST /v1/events", "POST /v1/orders"):
            self.assertEqual(sam_routes[key], {"if": "UseJwt", "then": "JWT", "else": "AWS_IAM"})
            self.assertIn('"JWT" : "AWS_IAM"', tf_routes[key])
        self.assertEqual(sam_routes["GET /v1/health"], tf_routes["GET /v1/health"])

    def test_throttling_integration_and_logs(self):
        stage, tf_stage = props("HttpApiStage"), tf_body("HttpApiStage")
        settings = block(tf_stage, "default_route_settings")
        self.assertEqual(resolve_tf(settings["throttling_rate_limit"]), resolve_sam(stage["DefaultRouteSettings"]["ThrottlingRateLimit"]))
        self.assertEqual(resolve_tf(settings["throttling_burst_limit"]), resolve_sam(stage["DefaultRouteSettings"]["ThrottlingBurstLimit"]))
        sam_format = set(json.loads(stage["AccessLogSettings"]["Format"]))
        tf_format = set(hcl_object_to_json(block(tf_stage, "access_log_settings")["format"]))
        self.assertEqual(tf_format, sam_format)
        integration, tf_integration = props("HttpApiIntegration"), tf_body("HttpApiIntegration")
        self.assertEqual(tf_integration["payload_format_version"], integration["PayloadFormatVersion"])
        self.assertEqual(float(tf_integration["timeout_milliseconds"]), float(integration["TimeoutInMillis"]))
        self.assertLess(
            float(props("IngestApiFunction")["Timeout"]) * 1000, float(integration["TimeoutInMillis"]),
            "the function must time out before the integration does",
        )
        authorizer = tf_body("HttpApiJwtAuthorizer")
        self.assertEqual(authorizer["authorizer_type"], "JWT")
        self.assertEqual(authorizer["identity_sources"], props("HttpApiJwtAuthorizer")["IdentitySource"])


class ParametersAndOutputs(unittest.TestCase):
    def test_parameters_and_variables_have_the_same_defaults(self):
        variables = set(TF.variables) - model.TF_ONLY_VARIABLES
        mapped = {model.variable_for(p) for p in SAM["Parameters"]}
        self.assertEqual(sorted(variables), sorted(mapped))
        for param in SAM["Parameters"]:
            variable = model.variable_for(param)
            if variable == "kafka_subnet_ids":
                self.assertEqual(model.tf_default(TF, variable), [])
                self.assertEqual(model.sam_default(SAM, param), "")
                continue
            sam_value = model.sam_default(SAM, param)
            if "list" in TF.variables[variable]["type"] and isinstance(sam_value, str):
                sam_value = [x for x in sam_value.split(",") if x]  # comma-separated String parameter
            with self.subTest(parameter=param):
                self.assertEqual(model.tf_default(TF, variable), sam_value)

    def test_everything_is_described(self):
        for name, spec in SAM["Parameters"].items():
            self.assertTrue(spec.get("Description"), f"parameter {name}")
        for name, body in TF.variables.items():
            self.assertTrue(body.get("description"), f"variable {name}")
        for name, body in TF.outputs.items():
            self.assertTrue(body.get("description"), f"output {name}")
        for name, spec in SAM["Outputs"].items():
            self.assertTrue(spec.get("Description"), f"output {name}")

    def test_same_outputs(self):
        self.assertEqual(sorted(TF.outputs), sorted(model.snake(o) for o in SAM["Outputs"]))

    def test_module_readme_documents_every_variable_and_output(self):
        readme = (model.MODULE / "README.md").read_text()
        for name in list(TF.variables) + list(TF.outputs):
            self.assertRegex(readme, rf"\|\s*`{name}`\s*\|", f"{name} missing from the module README tables")

    def test_root_readme_documents_every_sam_parameter(self):
        readme = (model.ROOT / "README.md").read_text()
        deploy = readme[readme.find("## Deploy"):]
        self.assertTrue(deploy.startswith("## Deploy"), "README has no Deploy section")
        for name in SAM["Parameters"]:
            self.assertIn(f"`{name}`", deploy, f"{name} missing from README Deploy")

    def test_dashboard_has_the_same_widgets(self):
        body = props("Dashboard")["DashboardBody"]["Fn::Sub"][0]
        sam_titles = [re.sub(r"\$\{[^}]+\}", "X", t) for t in re.findall(r'"title": "([^"]+)"', body)]
        tf_text = (model.MODULE / "dashboard.tf").read_text()
        tf_titles = [re.sub(r"\$\{[^}]+\}", "X", t) for t in re.findall(r'title\s*=\s*"([^"]+)"', tf_text)]
        self.assertEqual(tf_titles, sam_titles)
        self.assertGreaterEqual(len(sam_titles), 10)


class _CountingResult(unittest.TextTestResult):
    pass


if __name__ == "__main__":
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_CountingResult)
    result = runner.run(unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__]))
    failed = {getattr(test, "test_case", test).id() for test, _ in result.failures + result.errors}
    print(f"parity: {result.testsRun - len(failed)} passed, {len(failed)} failed")
    sys.exit(0 if result.wasSuccessful() else 1)
