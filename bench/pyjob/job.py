"""The Python side of bench/compare: the same workloads as bench/gojob, through
dagster-pipes from PyPI with its defaults (bootstrap from the DAGSTER_PIPES_*
env vars, context file, file writer).

    python job.py logs N        logs N messages at INFO
    python job.py materialize   reports one materialization with 10 metadata entries
                                and one asset check (the small job of issue 16)

At exit it prints {"loop_ns": ..., "vmhwm_kb": ...}, as bench/gojob does: the time
of the N log calls and the peak RSS of the process (VmHWM from /proc/self/status).
"""

import json
import sys
import time

from dagster_pipes import open_dagster_pipes

MESSAGE = "processed batch 1234 of 100000 (250 records)"


def vmhwm_kb() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def logs(n: int) -> int:
    with open_dagster_pipes() as pipes:
        log = pipes.log
        start = time.perf_counter_ns()
        for _ in range(n):
            log.info(MESSAGE)
        elapsed = time.perf_counter_ns() - start
    return elapsed


def materialize() -> int:
    with open_dagster_pipes() as pipes:
        pipes.report_asset_materialization(
            data_version="v1",
            metadata={
                "row_count": {"raw_value": 1234567, "type": "int"},
                "size_mb": {"raw_value": 12.5, "type": "float"},
                "path": {"raw_value": "/data/out/part-0001.parquet", "type": "path"},
                "url": {"raw_value": "https://example.com/dashboards/42", "type": "url"},
                "description": {"raw_value": "# Daily load\nAll **good**.", "type": "md"},
                "ok": {"raw_value": True, "type": "bool"},
                "owner": {"raw_value": "data-team", "type": "text"},
                "updated_at": {"raw_value": 1700000000.0, "type": "timestamp"},
                "partitions": 42,
                "source": "warehouse.events",
            },
        )
        pipes.report_asset_check(
            check_name="row_count_positive",
            passed=True,
            metadata={"rows": 1234567},
        )
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "logs":
        loop_ns = logs(int(sys.argv[2]))
    elif sys.argv[1] == "materialize":
        loop_ns = materialize()
    else:
        sys.exit(f"unknown workload {sys.argv[1]}")
    print(json.dumps({"loop_ns": loop_ns, "vmhwm_kb": vmhwm_kb()}))
