"""Writes a small silver batch for the run_models.py test: silver transaction Parquet in the
engine contract's schema (jobs/sql/README.md) with pyarrow, an independent writer.

    python spark_fixture.py LAKE_DIR SPEC_JSON

SPEC_JSON: {"objects": {"<key>": [row, ...]}} where a row gives event_id, _arrival_time
(ISO), _position and optionally quantity / product_price / product_id / user_id; every other
column gets a fixed, valid value.
"""

import json
import os
import sys
from datetime import datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

UTC = pa.timestamp("us", tz="UTC")
COLUMNS = [
    ("event_id", pa.string()), ("event_timestamp", UTC), ("dt_date", pa.string()),
    ("year", pa.int32()), ("month", pa.int32()), ("day", pa.int32()), ("hour", pa.int32()),
    ("user_id", pa.string()), ("user_name", pa.string()), ("user_email", pa.string()),
    ("user_phone", pa.string()), ("is_first_purchase", pa.bool_()), ("language", pa.string()),
    ("currency", pa.string()), ("city_name", pa.string()), ("country_name", pa.string()),
    ("product_id", pa.int64()), ("product_name", pa.string()), ("product_category", pa.string()),
    ("product_brand", pa.string()), ("product_price", pa.decimal128(18, 2)), ("quantity", pa.int32()),
    ("total_amount", pa.decimal128(18, 2)), ("feedback_score", pa.int32()),
    ("shipping_address", pa.string()), ("postal_code", pa.string()), ("device_type", pa.string()),
    ("browser", pa.string()), ("referral_source", pa.string()), ("campaign", pa.string()),
    ("coupon_code", pa.string()), ("coupon_code_flag", pa.bool_()), ("payment_method", pa.string()),
    ("payment_status", pa.string()), ("transaction_status", pa.string()), ("action_type", pa.string()),
    ("fraud_score", pa.float64()), ("risk_level", pa.string()), ("fraud_review", pa.bool_()),
    ("fraud_rules", pa.string()), ("customer_segment", pa.string()), ("profile_country", pa.string()),
    ("repairs", pa.string()), ("_source", pa.string()), ("_position", pa.string()),
    ("_arrival_time", UTC), ("_object", pa.string()),
]
SCHEMA = pa.schema([pa.field(name, kind, nullable=name not in ("event_id", "user_id")) for name, kind in COLUMNS])


def row(key, spec):
    when = datetime.fromisoformat("2026-12-02T10:15:00+00:00")
    quantity = spec.get("quantity", 2)
    price = Decimal(spec.get("product_price", "19.99"))
    refund = quantity < 0
    return {
        "event_id": spec["event_id"], "event_timestamp": when, "dt_date": "2026-12-02",
        "year": 2026, "month": 12, "day": 2, "hour": 10,
        "user_id": spec.get("user_id", "u-1"), "user_name": "Ada", "user_email": "ada@example.com",
        "user_phone": "+33612345678", "is_first_purchase": False, "language": "fr", "currency": "EUR",
        "city_name": "PARIS", "country_name": "FRANCE", "product_id": spec.get("product_id", 42),
        "product_name": "Kite", "product_category": "TOYS", "product_brand": "Acme",
        "product_price": price, "quantity": quantity, "total_amount": price * quantity,
        "feedback_score": 4, "shipping_address": "1 rue de Rivoli", "postal_code": "75001",
        "device_type": "mobile", "browser": "firefox", "referral_source": "direct",
        "campaign": "no_campaign", "coupon_code": "no_coupon", "coupon_code_flag": False,
        "payment_method": "card", "payment_status": "refunded" if refund else "paid",
        "transaction_status": "refund" if refund else "completed",
        "action_type": "refund" if refund else "purchase", "fraud_score": 0.1, "risk_level": "LOW",
        "fraud_review": False, "fraud_rules": "", "customer_segment": "regular",
        "profile_country": "FRANCE", "repairs": "", "_source": "shardId-000000000000",
        "_position": spec["_position"],
        "_arrival_time": datetime.fromisoformat(spec["_arrival_time"]), "_object": key,
    }


def main():
    lake, spec = sys.argv[1], json.loads(sys.argv[2])
    for key, rows in spec["objects"].items():
        path = os.path.join(lake, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        table = pa.Table.from_pylist([row(key, r) for r in rows], schema=SCHEMA)
        pq.write_table(table, path, compression="snappy")


if __name__ == "__main__":
    main()
