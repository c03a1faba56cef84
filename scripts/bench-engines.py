#!/usr/bin/env python3
"""The two engines of jobs/sql side by side on one silver batch, in one run.

    scripts/bench-engines.sh [EVENTS] [ROUNDS]

Generates EVENTS transactions (default 1,000,000), enriches them into a local lake with
`shopstream enrich` (stream-enrich's steps), plans the batch once (`transform --plan-only`),
then alternates ROUNDS times (default 2): `shopstream transform` (DataFusion) and
`jobs/spark/run_models.py` on `local[2]`, each into a fresh gold directory. Per run: wall
seconds, CPU seconds (user + system of the process and its waited-for children; for Spark the
JVM's own figure from the driver's summary, which the Python process does not wait for) and
peak resident memory. Prints each run and the ratios Spark / DataFusion of the medians.
Called by scripts/bench-engines.sh, which builds the release CLI.
"""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    cli = os.environ["SHOPSTREAM_BIN"]
    python = os.environ.get("SHOPSTREAM_PYTHON", sys.executable)
    work = tempfile.mkdtemp(prefix="shopstream-engines-")
    try:
        lake = os.path.join(work, "lake")
        events_file = os.path.join(work, "events.jsonl")
        subprocess.run([cli, "generate", "-n", str(events), "--mix",
                        "transaction=100,clickstream=0,inventory=0", "--start", "2025-11-01",
                        "--days", "30", "--progress", "false", "-o", events_file], check=True)
        subprocess.run([cli, "enrich", events_file, "--lake", lake,
                        "--arrival", "2025-12-15T00:00:00Z"], check=True)
        plan = subprocess.run([cli, "transform", "--silver", lake, "--gold", lake, "--plan-only"],
                              check=True, capture_output=True, text=True).stdout.strip()
        batch_id = os.path.basename(plan)[: -len(".json")]
        runs = {"datafusion": [], "spark": []}
        previous = resource.getrusage(resource.RUSAGE_CHILDREN)
        silver_rows = None
        for round_number in range(rounds):
            for engine in ("datafusion", "spark"):
                gold = os.path.join(work, f"{engine}-{round_number}")
                if engine == "datafusion":
                    command = [cli, "transform", "--silver", lake, "--gold", gold]
                else:
                    command = [python, os.path.join(repo, "jobs/spark/run_models.py"),
                               "--master", "local[2]", "--shuffle-partitions", "2",
                               "--driver-memory", os.environ.get("SPARK_DRIVER_MEMORY", "6g"),
                               "--silver", os.path.join(lake, "silver"),
                               "--gold", os.path.join(gold, "gold"), "--batch-id", batch_id,
                               "--models", os.path.join(repo, "jobs/sql"), "--inputs", plan]
                rss_file = os.path.join(work, "rss")
                started = time.monotonic()
                result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + command,
                                        capture_output=True, text=True)
                wall = time.monotonic() - started
                if result.returncode != 0:
                    sys.exit(f"{engine} failed ({result.returncode}):\n{result.stderr[-4000:]}")
                usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (usage.ru_utime - previous.ru_utime) + (usage.ru_stime - previous.ru_stime)
                # Peak RSS of the engine's process (KiB); for Spark the Python driver's, the
                # JVM's heap is bounded by spark.driver.memory instead.
                with open(rss_file) as f:
                    peak = int(f.read().split()[-1]) / 1024
                previous = usage
                if engine == "spark":
                    summary = json.loads(result.stdout.strip().splitlines()[-1])
                    cpu = cpu + float(summary.get("jvm_cpu_seconds") or 0)
                else:
                    for line in result.stdout.splitlines():
                        if line.startswith("silver rows "):
                            silver_rows = int(line.split()[2].rstrip(","))
                runs[engine].append({"wall": wall, "cpu": cpu, "peak_mib": peak})
                print(f"round {round_number + 1} {engine:<10} wall {wall:8.2f} s  cpu {cpu:8.2f} s"
                      f"  peak RSS {peak:.0f} MiB", flush=True)
        df_wall = statistics.median(r["wall"] for r in runs["datafusion"])
        df_cpu = statistics.median(r["cpu"] for r in runs["datafusion"])
        sp_wall = statistics.median(r["wall"] for r in runs["spark"])
        sp_cpu = statistics.median(r["cpu"] for r in runs["spark"])
        print(json.dumps({
            "events": events,
            "silver_rows": silver_rows,
            "rounds": rounds,
            "datafusion": {"wall_s": round(df_wall, 2), "cpu_s": round(df_cpu, 2),
                           "peak_rss_mib": round(max(r["peak_mib"] for r in runs["datafusion"])),
                           "silver_rows_per_cpu_s": round(silver_rows / df_cpu) if silver_rows else None},
            "spark": {"wall_s": round(sp_wall, 2), "cpu_s": round(sp_cpu, 2)},
            "spark_over_datafusion": {"wall": round(sp_wall / df_wall, 2),
                                      "cpu": round(sp_cpu / df_cpu, 2)},
        }, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
