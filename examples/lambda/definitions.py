"""Dagster definitions that invoke the Go Lambda function of this directory.

PipesLambdaClient (dagster-aws) invokes the function synchronously with the event below plus the
Pipes bootstrap values, and reads the function's messages from the last 4 KB of the invocation's
log (LogType=Tail). That is enough for a few dozen log lines, a materialization and its checks;
for more, pass message_reader=PipesS3MessageReader(bucket=..., client=boto3.client("s3")) to the
client: the function then uploads its messages to that bucket (its role needs s3:PutObject).

Environment:
  PIPES_LAMBDA_FUNCTION  the function's name (default "go-pipes-example")
  AWS_REGION, credentials, and AWS_ENDPOINT_URL_LAMBDA (or AWS_ENDPOINT_URL) as boto3 reads them

    dagster dev -f definitions.py
"""

import os

import boto3
import dagster as dg
from dagster_aws.pipes import PipesLambdaClient

FUNCTION = os.environ.get("PIPES_LAMBDA_FUNCTION", "go-pipes-example")


@dg.asset(check_specs=[dg.AssetCheckSpec("orders_present", asset="daily_orders")])
def daily_orders(context: dg.AssetExecutionContext, lambda_pipes_client: PipesLambdaClient):
    """The day's orders, computed by the Go function on AWS Lambda."""
    yield from lambda_pipes_client.run(
        context=context,
        function_name=FUNCTION,
        event={"date": "2024-03-01", "limit": 5},
    ).get_results()


defs = dg.Definitions(
    assets=[daily_orders],
    resources={"lambda_pipes_client": PipesLambdaClient(client=boto3.client("lambda"))},
)
