#!/usr/bin/env python3
"""The EMR job: runs the star-flake models of jobs/sql on Spark SQL for one gold batch.

    spark-submit run_models.py --silver s3://LAKE/silver --gold s3://LAKE/gold \
        --batch-id ID --models s3://.../jobs/sql --inputs s3://LAKE/gold/_plans/ID.json

It follows the engine contract of jobs/sql/README.md, as gold-transform's DataFusion engine
does: it registers exactly the input views `silver_transactions`, `quarantine_records` and
`gold_event_index`, runs models.json's models in order (each result registered as a view named
after the model), writes every model with an `output` to
gold/<output>/batch_id=<id>/part-NNNNN.parquet (event_index per date to
gold/_event_index/dt=<d>/batch_id=<id>.parquet) and finally the manifest
gold/_manifests/<id>.json (shopstream::manifest's format, engine "spark"). What the models
compute is in the SQL only; this driver reads inputs, writes outputs and counts rows.

Paths may be s3:// URIs (EMRFS on EMR) or local directories (local[N] in tests). Plan keys
(`silver/transaction/...`, `quarantine/...`) are relative to the lake root, the parent of
--silver. It exits 0 after the manifest is written and non-zero on any failure, before the
manifest; its last stdout line is a JSON summary (rows per table, wall and CPU seconds).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import posixpath
import re
import resource
import sys
import time
import traceback
from datetime import datetime, timezone

FORMAT_VERSION = 1
ENGINE = "spark"
INPUT_VIEWS = ("silver_transactions", "quarantine_records", "gold_event_index")
EVENT_INDEX_MODEL = "event_index"
EVENT_INDEX_DIR = "_event_index"
MANIFESTS_DIR = "_manifests"
SILVER_TRANSACTION_PREFIX = "silver/transaction/"
QUARANTINE_PREFIXES = ("quarantine/transaction/", "quarantine/unknown/")
# Rows per Parquet row group in gold files (Redshift COPY reads row groups in parallel).
ROW_GROUP_BYTES = 128 * 1024 * 1024

# The silver transaction schema, column by column as shopstream::columnar::schema(Transaction)
# defines it (Spark's names for the Arrow types). A silver object whose schema differs is a bad
# input. The conformance test checks this list against the Rust schema.
SILVER_TRANSACTION_COLUMNS = [
    ("event_id", "string"),
    ("event_timestamp", "timestamp"),
    ("dt_date", "string"),
    ("year", "int"),
    ("month", "int"),
    ("day", "int"),
    ("hour", "int"),
    ("user_id", "string"),
    ("user_name", "string"),
    ("user_email", "string"),
    ("user_phone", "string"),
    ("is_first_purchase", "boolean"),
    ("language", "string"),
    ("currency", "string"),
    ("city_name", "string"),
    ("country_name", "string"),
    ("product_id", "bigint"),
    ("product_name", "string"),
    ("product_category", "string"),
    ("product_brand", "string"),
    ("product_price", "decimal(18,2)"),
    ("quantity", "int"),
    ("total_amount", "decimal(18,2)"),
    ("feedback_score", "int"),
    ("shipping_address", "string"),
    ("postal_code", "string"),
    ("device_type", "string"),
    ("browser", "string"),
    ("referral_source", "string"),
    ("campaign", "string"),
    ("coupon_code", "string"),
    ("coupon_code_flag", "boolean"),
    ("payment_method", "string"),
    ("payment_status", "string"),
    ("transaction_status", "string"),
    ("action_type", "string"),
    ("fraud_score", "double"),
    ("risk_level", "string"),
    ("fraud_review", "boolean"),
    ("fraud_rules", "string"),
    ("customer_segment", "string"),
    ("profile_country", "string"),
    ("repairs", "string"),
    ("_source", "string"),
    ("_position", "string"),
    ("_arrival_time", "timestamp"),
    ("_object", "string"),
]

# Spark settings the models rely on, declared here rather than left to cluster defaults.
SESSION_SETTINGS = {
    # Timestamps are UTC instants; extract/year()/hour() must see UTC.
    "spark.sql.session.timeZone": "UTC",
    # Errors instead of silent NULLs on overflow, bad casts and division by zero.
    "spark.sql.ansi.enabled": "true",
    "spark.sql.storeAssignmentPolicy": "ANSI",
    # Decimal arithmetic keeps its exact result type; no silent rounding to fit 38 digits.
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.legacy.allowNegativeScaleOfDecimal": "false",
    # Gold Parquet as Redshift COPY reads it: microsecond UTC timestamps, snappy, standard
    # (non-legacy) decimal encoding, no calendar rebasing.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.writeLegacyFormat": "false",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.mergeSchema": "false",
    "spark.sql.caseSensitive": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.hadoop.parquet.block.size": str(ROW_GROUP_BYTES),
    "spark.ui.showConsoleProgress": "false",
    # No _SUCCESS markers among the gold files.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}


class JobError(Exception):
    """A failure with a message meant for the step's log and the ledger."""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--silver", required=True, help="silver root, e.g. s3://lake/silver")
    parser.add_argument("--gold", required=True, help="gold root, e.g. s3://lake/gold")
    parser.add_argument("--batch-id", required=True)
    parser.add_argument("--models", required=True, help="directory with models.json and the .sql files")
    parser.add_argument("--inputs", required=True, help="the batch's plan (gold/_plans/<id>.json)")
    parser.add_argument(
        "--master",
        help="Spark master for runs outside a cluster, e.g. local[2] (binds the driver to 127.0.0.1, no UI)",
    )
    parser.add_argument(
        "--driver-memory",
        help="spark.driver.memory for runs outside a cluster, e.g. 6g (local mode runs every task in the driver; Spark's default 1g is too small for a million rows)",
    )
    parser.add_argument(
        "--shuffle-partitions",
        type=int,
        help="spark.sql.shuffle.partitions (default: Spark's, 200; a small value suits local runs)",
    )
    return parser.parse_args(argv)


def spark_session(args):
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(f"shopstream-gold-{args.batch_id}")
    if args.master:
        builder = (
            builder.master(args.master)
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.ui.enabled", "false")
        )
        if args.driver_memory:
            builder = builder.config("spark.driver.memory", args.driver_memory)
    for key, value in SESSION_SETTINGS.items():
        builder = builder.config(key, value)
    if args.shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


class Storage:
    """Files through Hadoop's FileSystem API, so s3:// (EMRFS) and local paths work alike."""

    def __init__(self, spark):
        self.jvm = spark._jvm
        self.conf = spark._jsc.hadoopConfiguration()
        # Local runs: no .crc side files next to the gold files (Spark shares this cached
        # FileSystem instance).
        local = self.jvm.org.apache.hadoop.fs.FileSystem.getLocal(self.conf)
        local.setWriteChecksum(False)
        local.setVerifyChecksum(False)

    def _path(self, uri):
        return self.jvm.org.apache.hadoop.fs.Path(uri)

    def _fs(self, path):
        return path.getFileSystem(self.conf)

    def exists(self, uri):
        path = self._path(uri)
        return self._fs(path).exists(path)

    def read_bytes(self, uri):
        path = self._path(uri)
        stream = self._fs(path).open(path)
        try:
            return bytes(self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write_bytes(self, uri, data):
        path = self._path(uri)
        stream = self._fs(path).create(path, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()

    def size(self, uri):
        path = self._path(uri)
        return int(self._fs(path).getFileStatus(path).getLen())

    def sha256(self, uri):
        path = self._path(uri)
        stream = self._fs(path).open(path)
        try:
            return str(self.jvm.org.apache.commons.codec.digest.DigestUtils.sha256Hex(stream))
        finally:
            stream.close()

    def list_files(self, uri):
        """Files directly under `uri` (sorted by name); [] when it does not exist."""
        path = self._path(uri)
        fs = self._fs(path)
        if not fs.exists(path):
            return []
        return sorted(str(s.getPath().toString()) for s in fs.listStatus(path) if s.isFile())

    def list_dirs(self, uri):
        path = self._path(uri)
        fs = self._fs(path)
        if not fs.exists(path):
            return []
        return sorted(str(s.getPath().toString()) for s in fs.listStatus(path) if s.isDirectory())

    def rename(self, source, target):
        src, dst = self._path(source), self._path(target)
        fs = self._fs(dst)
        if fs.exists(dst):
            fs.delete(dst, False)
        if not fs.rename(src, dst):
            raise JobError(f"could not move {source} to {target}")

    def delete(self, uri):
        path = self._path(uri)
        fs = self._fs(path)
        if fs.exists(path):
            fs.delete(path, True)


def join(root, *parts):
    return posixpath.join(root.rstrip("/"), *parts)


def lake_root(silver_root):
    """Plan keys are lake-relative (`silver/...`, `quarantine/...`); the lake holds --silver."""
    root = silver_root.rstrip("/")
    return posixpath.dirname(root) if posixpath.basename(root) == "silver" else root


def load_models(storage, models_uri):
    manifest = json.loads(storage.read_bytes(join(models_uri, "models.json")).decode("utf-8"))
    if manifest.get("format_version") != 1:
        raise JobError(f"models.json format_version {manifest.get('format_version')} is not 1")
    if tuple(manifest.get("inputs", [])) != INPUT_VIEWS:
        raise JobError(f"models.json expects input views {manifest.get('inputs')}, this driver registers {list(INPUT_VIEWS)}")
    models = []
    for model in manifest["models"]:
        data = storage.read_bytes(join(models_uri, model["file"]))
        models.append(
            {
                "name": model["name"],
                "output": model.get("output"),
                "sql": data.decode("utf-8"),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    return models


def read_plan(storage, inputs_uri, batch_id):
    plan = json.loads(storage.read_bytes(inputs_uri).decode("utf-8"))
    if plan.get("batch_id") != batch_id:
        raise JobError(f"{inputs_uri} is the plan of batch {plan.get('batch_id')!r}, not {batch_id!r}")
    return plan


def silver_schema():
    from pyspark.sql import types

    kinds = {
        "string": types.StringType(),
        "timestamp": types.TimestampType(),
        "int": types.IntegerType(),
        "bigint": types.LongType(),
        "boolean": types.BooleanType(),
        "double": types.DoubleType(),
        "decimal(18,2)": types.DecimalType(18, 2),
    }
    return types.StructType([types.StructField(name, kinds[kind], True) for name, kind in SILVER_TRANSACTION_COLUMNS])


def schema_problem(actual, expected):
    got = [(f.name, f.dataType.simpleString()) for f in actual.fields]
    want = [(f.name, f.dataType.simpleString()) for f in expected.fields]
    if got == want:
        return None
    missing = [c for c in want if c not in got]
    extra = [c for c in got if c not in want]
    return f"schema differs from silver transactions: missing {missing}, unexpected {extra}"


def register_silver(spark, storage, lake, silver_inputs, bad_inputs):
    """`silver_transactions`: every readable silver object with the silver schema."""
    expected = silver_schema()
    readable = []
    for item in silver_inputs:
        uri = join(lake, item["key"])
        try:
            problem = schema_problem(spark.read.parquet(uri).schema, expected)
        except Exception as error:  # noqa: BLE001 - any unreadable object is a bad input
            problem = f"not readable as Parquet: {first_line(error)}"
        if problem:
            bad_inputs.append({"key": item["key"], "error": problem})
        else:
            readable.append((item, uri))
    if readable:
        frame = spark.read.schema(expected).parquet(*[uri for _, uri in readable])
    else:
        frame = spark.createDataFrame([], expected)
    frame.createOrReplaceTempView("silver_transactions")
    return [item for item, _ in readable]


def first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def quarantine_position(position):
    source = position.get("source")
    if source in ("kinesis", "dynamo_db"):
        return position["shard_id"], str(position["sequence_number"])
    if source == "kafka":
        return f"{position['topic']}-{position['partition']}", str(position["offset"])
    if source == "api":
        return f"api:{position['request_id']}", str(position["index"])
    if source == "file":
        return f"file:{position['path']}", str(position["index"])
    raise ValueError(f"unknown position source {source!r}")


def parse_time(text):
    # RFC 3339 with up to nanoseconds; gold keeps microseconds (truncated).
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not match:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    base, fraction, zone = match.groups()
    micros = (fraction or "")[:6].ljust(6, "0")
    zone = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(f"{base}.{micros}{zone}").astimezone(timezone.utc)


def dt_partition(key):
    match = re.search(r"(?:^|/)dt=(\d{4}-\d\d-\d\d)(?:/|$)", key)
    return match.group(1) if match else None


def quarantine_rows(key, text):
    """(rows, bad line reports) of one quarantine JSONL object."""
    rows, bad = [], []
    dt_date = dt_partition(key)
    for line_number, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            source, position = quarantine_position(entry["position"])
            rows.append(
                (
                    entry.get("event_id"),
                    entry.get("entity"),
                    ",".join(entry["reasons"]),
                    entry["payload"],
                    entry["payload_encoding"],
                    parse_time(entry["received_at"]),
                    dt_date,
                    source,
                    position,
                    key,
                    line_number,
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            bad.append({"key": key, "error": f"line {line_number}: not a quarantine entry: {error}"})
    return rows, bad


def register_quarantine(spark, storage, lake, quarantine_inputs, bad_inputs):
    from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

    schema = StructType(
        [
            StructField("event_id", StringType(), True),
            StructField("entity", StringType(), True),
            StructField("reasons", StringType(), False),
            StructField("payload", StringType(), False),
            StructField("payload_encoding", StringType(), False),
            StructField("received_at", TimestampType(), False),
            StructField("dt_date", StringType(), True),
            StructField("_source", StringType(), False),
            StructField("_position", StringType(), False),
            StructField("_object", StringType(), False),
            StructField("_line", LongType(), False),
        ]
    )
    read = []
    rows = []
    for item in quarantine_inputs:
        try:
            text = storage.read_bytes(join(lake, item["key"])).decode("utf-8")
        except Exception as error:  # noqa: BLE001 - unreadable: a bad input
            bad_inputs.append({"key": item["key"], "error": f"not readable: {first_line(error)}"})
            continue
        object_rows, bad = quarantine_rows(item["key"], text)
        rows.extend(object_rows)
        bad_inputs.extend(bad)
        read.append(item)
    spark.createDataFrame(rows, schema).createOrReplaceTempView("quarantine_records")
    return read, len(rows)


def register_event_index(spark, storage, gold, batch_id):
    """`gold_event_index`: event ids committed batches put in gold for this batch's dates."""
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField("event_id", StringType(), False), StructField("dt_date", StringType(), False)])
    dates = [row[0] for row in spark.sql("SELECT DISTINCT dt_date FROM silver_transactions").collect()]
    files = []
    for dt_date in sorted(d for d in dates if d is not None):
        for uri in storage.list_files(join(gold, EVENT_INDEX_DIR, f"dt={dt_date}")):
            name = posixpath.basename(uri)
            match = re.fullmatch(r"batch_id=(.+)\.parquet", name)
            if not match or match.group(1) == batch_id:
                continue
            if storage.exists(join(gold, MANIFESTS_DIR, f"{match.group(1)}.json")):
                files.append(uri)
    if files:
        frame = spark.read.schema(schema).parquet(*files).select("event_id", "dt_date")
    else:
        frame = spark.createDataFrame([], schema)
    frame.createOrReplaceTempView("gold_event_index")


def write_single_file(storage, frame, target, scratch):
    """Writes `frame` as one Parquet file at `target` (through a scratch directory)."""
    frame.coalesce(1).write.mode("overwrite").parquet(scratch)
    parts = [u for u in storage.list_files(scratch) if posixpath.basename(u).startswith("part-")]
    if len(parts) != 1:
        raise JobError(f"expected one Parquet file in {scratch}, found {len(parts)}")
    storage.rename(parts[0], target)
    storage.delete(scratch)


def write_table(spark, storage, gold, gold_prefix, batch_id, table, frame):
    """gold/<table>/batch_id=<id>/part-NNNNN.parquet in the model's row order; (key, uri) of
    each file."""
    directory = join(gold, table, f"batch_id={batch_id}")
    scratch = join(gold, "_scratch", batch_id, table)
    storage.delete(directory)
    storage.delete(scratch)
    frame.write.mode("overwrite").parquet(scratch)
    # Spark numbers its part files in partition order, which is the ORDER BY's range order.
    parts = [u for u in storage.list_files(scratch) if posixpath.basename(u).startswith("part-")]
    files = []
    for part in parts:
        if spark.read.parquet(part).count() == 0:
            continue  # a table without rows has no files
        name = f"part-{len(files):05d}.parquet"
        target = join(directory, name)
        storage.rename(part, target)
        files.append((f"{gold_prefix}/{table}/batch_id={batch_id}/{name}", target))
    storage.delete(scratch)
    return files


def describe(spark, storage, key, uri):
    return {
        "key": key,
        "size_bytes": storage.size(uri),
        "rows": spark.read.parquet(uri).count(),
        "sha256": storage.sha256(uri),
    }


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def seal(manifest):
    unsealed = dict(manifest, checksum="")
    manifest["checksum"] = hashlib.sha256(canonical(unsealed).encode("utf-8")).hexdigest()
    return manifest


def gold_prefix_of(gold, lake):
    """The lake-relative prefix of gold files (`gold` for s3://lake/gold)."""
    gold, lake = gold.rstrip("/"), lake.rstrip("/")
    if gold.startswith(lake + "/"):
        return gold[len(lake) + 1 :]
    return posixpath.basename(gold)


def run(args):
    started = time.time()
    spark = spark_session(args)
    storage = Storage(spark)
    lake = lake_root(args.silver)
    gold = args.gold.rstrip("/")
    gold_prefix = gold_prefix_of(gold, lake)
    models = load_models(storage, args.models)
    plan = read_plan(storage, args.inputs, args.batch_id)

    inputs = sorted(plan["inputs"], key=lambda item: item["key"])
    silver_planned = [i for i in inputs if i["key"].startswith(SILVER_TRANSACTION_PREFIX)]
    quarantine_planned = [i for i in inputs if i["key"].startswith(QUARANTINE_PREFIXES)]
    planned = {i["key"] for i in silver_planned} | {i["key"] for i in quarantine_planned}
    bad_inputs = [
        {"key": i["key"], "error": "not a silver transaction or quarantine object"}
        for i in inputs
        if i["key"] not in planned
    ]
    silver_read = register_silver(spark, storage, lake, silver_planned, bad_inputs)
    quarantine_read, quarantine_count = register_quarantine(spark, storage, lake, quarantine_planned, bad_inputs)
    register_event_index(spark, storage, gold, args.batch_id)

    row_counts = {}
    outputs = {}
    for model in models:
        frame = spark.sql(model["sql"])
        if model["output"] is None:
            # Intermediate views are read by several models: compute them once.
            frame = frame.cache()
        frame.createOrReplaceTempView(model["name"])
        if model["output"] is not None:
            outputs[model["name"]] = (model["output"], frame)

    for name in ("silver_transactions", "transactions_first_seen", "transactions_accepted"):
        row_counts[name] = spark.table(name).count()

    tables = {}
    for name, (table, frame) in outputs.items():
        if name == EVENT_INDEX_MODEL:
            continue
        files = write_table(spark, storage, gold, gold_prefix, args.batch_id, table, frame)
        described = [describe(spark, storage, key, uri) for key, uri in files]
        tables[table] = {"rows": sum(f["rows"] for f in described), "files": described}

    event_index = []
    if EVENT_INDEX_MODEL in outputs:
        _, frame = outputs[EVENT_INDEX_MODEL]
        frame = frame.cache()
        for (dt_date,) in sorted(frame.select("dt_date").distinct().collect()):
            target = join(gold, EVENT_INDEX_DIR, f"dt={dt_date}", f"batch_id={args.batch_id}.parquet")
            scratch = join(gold, "_scratch", args.batch_id, f"{EVENT_INDEX_DIR}-{dt_date}")
            write_single_file(storage, frame.where(frame.dt_date == dt_date), target, scratch)
            key = f"{gold_prefix}/{EVENT_INDEX_DIR}/dt={dt_date}/batch_id={args.batch_id}.parquet"
            event_index.append(describe(spark, storage, key, target))
    storage.delete(join(gold, "_scratch", args.batch_id))

    manifest = seal(
        {
            "format_version": FORMAT_VERSION,
            "batch_id": args.batch_id,
            "engine": ENGINE,
            "window": plan["window"],
            "tables": dict(sorted(tables.items())),
            "event_index": event_index,
            "silver_inputs": [
                {"key": i["key"], "size_bytes": i["size_bytes"], "etag": i.get("etag", "")}
                for i in sorted(silver_read + quarantine_read, key=lambda item: item["key"])
            ],
            "bad_inputs": bad_inputs,
            "model_versions": dict(sorted((m["name"], m["sha256"]) for m in models)),
            "counts": {
                "silver_rows": row_counts["silver_transactions"],
                "quarantine_rows": quarantine_count,
                "duplicates_in_batch": row_counts["silver_transactions"] - row_counts["transactions_first_seen"],
                "duplicates_from_gold": row_counts["transactions_first_seen"] - row_counts["transactions_accepted"],
            },
            "checksum": "",
        }
    )
    manifest_uri = join(gold, MANIFESTS_DIR, f"{args.batch_id}.json")
    storage.write_bytes(manifest_uri, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    jvm_cpu = jvm_cpu_seconds(spark)
    spark.stop()
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "batch_id": args.batch_id,
        "manifest": manifest_uri,
        "tables": {table: output["rows"] for table, output in manifest["tables"].items()},
        "event_index_rows": sum(f["rows"] for f in event_index),
        "counts": manifest["counts"],
        "bad_inputs": len(bad_inputs),
        "wall_seconds": round(time.time() - started, 3),
        "jvm_cpu_seconds": jvm_cpu,
        "python_cpu_seconds": round(own.ru_utime + own.ru_stime, 3),
    }


def jvm_cpu_seconds(spark):
    """CPU time of the driver JVM (all of Spark in local mode) from /proc, or None off Linux."""
    try:
        pid = spark._jvm.java.lang.ProcessHandle.current().pid()
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return round(ticks / os.sysconf("SC_CLK_TCK"), 3)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        summary = run(args)
    except Exception as error:  # noqa: BLE001 - every failure ends the step, before the manifest
        traceback.print_exc()
        print(f"run_models.py: batch {args.batch_id} failed: {first_line(error)}", file=sys.stderr)
        return 1
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
