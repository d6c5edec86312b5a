"""Databricks task entry point of the e2e tests: a spark_python_task whose first parameter is the
Go program to run. It execs the program with the remaining parameters (Dagster appends its
--dagster-pipes-* arguments there) and the task's environment, so that the Go program is the
task's process: its exit status is the task's, its output the driver's."""

import os
import sys

if len(sys.argv) < 2:
    sys.exit("usage: launcher.py GO_PROGRAM [ARGS...]")
os.execv(sys.argv[1], sys.argv[1:])
