"""Python reference for the failure scenario: a job that raises inside `with open_dagster_pipes()`."""
from dagster_pipes import open_dagster_pipes


def load_data():
    raise KeyError("job error code 7")


with open_dagster_pipes() as pipes:
    pipes.log.info("about to fail mode=error")
    pipes.report_custom_message("before failure")
    try:
        load_data()
    except KeyError as e:
        raise RuntimeError("step failed: job error code 7") from e
