"""Python reference for the logs scenario: the five named levels of e2e/jobs/logs."""
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.log.debug("debug message")
    pipes.log.info("info message")
    pipes.log.warning("warning message")
    pipes.log.error("error message")
    pipes.log.critical("critical message")
