#!/usr/bin/env python3
"""Cold start (init duration) of a Lambda bootstrap on this machine.

    scripts/cold-start.py BINARY [--runs N] [--env NAME=VALUE ...]

Lambda's init duration is the time from starting the runtime to its first call of the
Runtime API's `GET /2018-06-01/runtime/invocation/next`: everything the bootstrap does before
it can take an event (reading its configuration, building its clients). This script serves that
API on 127.0.0.1, starts BINARY N times (default 20) with AWS_LAMBDA_RUNTIME_API pointing at
it, fake credentials and the given variables, measures the time to the first `next` call and
stops the process. It prints every run and the median and p90 in milliseconds.
"""

import argparse
import http.server
import json
import os
import statistics
import subprocess
import threading
import time

first_call = threading.Event()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            first_call.set()
            # Hold the long poll: the process is stopped before an event would be sent.
            time.sleep(5)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_port}",
        "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(args.binary),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
    for pair in args.env:
        name, _, value = pair.partition("=")
        env[name] = value

    times = []
    for run in range(args.runs):
        first_call.clear()
        started = time.monotonic()
        process = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        called = first_call.wait(timeout=30)
        elapsed = (time.monotonic() - started) * 1000
        process.kill()
        _, stderr = process.communicate()
        if not called:
            raise SystemExit(f"no call of invocation/next within 30 s:\n{stderr.decode()[-2000:]}")
        times.append(elapsed)
        print(f"run {run + 1}: {elapsed:.1f} ms", flush=True)
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    print(json.dumps({"binary": args.binary, "runs": len(times),
                      "init_ms_median": round(statistics.median(times), 1),
                      "init_ms_p90": round(p90, 1)}))
    server.shutdown()


if __name__ == "__main__":
    main()
