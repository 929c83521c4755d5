#!/usr/bin/env python3
"""The original tool's aggregation, reproduced from its documented behaviour (gcsfuse-tools
distributed-micro-benchmarking, helpers/result_aggregator.py and the combined report described in
/work/shared/compat.md) as the speed anchor of bench/aggregation.ts. Written here, not copied.

For every VM: read its manifest; for every passed entry, json.load each iteration's fio output
(whole file, one parse), take each job's read/write bandwidth and completion latency (min, max,
mean, stddev and fio's own p50/p90/p99 from clat_ns.percentile), average them over jobs and
iterations (the original averages where it should sum: its documented flaw), and write one CSV
row per entry. Prints {"entries", "outputs", "seconds", "max_rss_kib"} as JSON.

  python3 bench/original-aggregator.py <artifact root> <benchmark id> <out.csv>
"""
import csv
import json
import os
import resource
import sys
import time

PERCENTILES = ("50.000000", "90.000000", "99.000000")


def mean(values):
    return sum(values) / len(values) if values else 0.0


def parse_entry(test_dir, iterations):
    stats = {d: {"bw": [], "min": [], "max": [], "mean": [], "stddev": [], **{p: [] for p in PERCENTILES}} for d in ("read", "write")}
    for i in range(1, iterations + 1):
        with open(os.path.join(test_dir, f"iteration-{i}.fio.json")) as f:
            data = json.load(f)
        for job in data.get("jobs", []):
            for d, s in stats.items():
                part = job.get(d) or {}
                if not part.get("bw"):
                    continue
                s["bw"].append(part["bw"])
                clat = part.get("clat_ns") or {}
                for k in ("min", "max", "mean", "stddev"):
                    s[k].append(clat.get(k, 0))
                pct = clat.get("percentile") or {}
                for p in PERCENTILES:
                    s[p].append(pct.get(p, 0))
    row = []
    for d in ("read", "write"):
        s = stats[d]
        row.append(mean(s["bw"]) / 1000.0)
        row += [mean(s[k]) / 1e6 for k in ("min", "max", "mean", "stddev", *PERCENTILES)]
    return row


def main():
    root, benchmark_id, out = sys.argv[1:4]
    t0 = time.perf_counter()
    results = os.path.join(root, benchmark_id, "results")
    rows = []
    outputs = 0
    for vm in sorted(os.listdir(results)):
        manifest_path = os.path.join(results, vm, "manifest.json")
        if not os.path.exists(manifest_path):
            continue
        with open(manifest_path) as f:
            manifest = json.load(f)
        for key, entry in manifest.get("entries", {}).items():
            if entry.get("status") != "passed":
                continue
            n = entry.get("iterationsDone", 0)
            rows.append([int(key), vm, n, *parse_entry(os.path.join(results, vm, f"test-{key}"), n)])
            outputs += n
    rows.sort()
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Matrix ID", "VM", "Iter"] + [f"{d} {k}" for d in ("Read", "Write") for k in ("BW (MB/s)", "Min (ms)", "Max (ms)", "Avg (ms)", "StdDev (ms)", "P50 (ms)", "P90 (ms)", "P99 (ms)")])
        w.writerows(rows)
    seconds = time.perf_counter() - t0
    print(json.dumps({"entries": len(rows), "outputs": outputs, "seconds": seconds, "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
