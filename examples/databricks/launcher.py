"""Entry point of a Databricks spark_python_task that runs a Go program.

Upload this file and the Go binary (built with GOOS=linux GOARCH=amd64, or arm64 for Graviton
clusters) to DBFS or a workspace/volume path, and make the binary the task's first parameter:

    "spark_python_task": {
        "python_file": "dbfs:/pipes/launcher.py",
        "parameters": ["/dbfs/pipes/orders-job", "-store=dbfs"],
    }

Dagster appends --dagster-pipes-context/--dagster-pipes-messages to the parameters when the task
runs on an existing cluster or on serverless compute; on a new cluster it puts them in the
environment (spark_env_vars). Either way they reach the Go program, which this script replaces
(exec): its exit status becomes the task's, its output the driver's log.
"""

import os
import stat
import sys

if len(sys.argv) < 2:
    sys.exit("usage: launcher.py GO_PROGRAM [ARGS...]")
program = sys.argv[1]
# Files copied to DBFS or a volume lose their executable bit.
mode = os.stat(program).st_mode
if not mode & stat.S_IXUSR:
    try:
        os.chmod(program, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except OSError:
        pass  # a read-only mount: exec reports the problem
os.execv(program, sys.argv[1:])
