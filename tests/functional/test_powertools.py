"""@protect next to Powertools for AWS Lambda: Logger, Metrics, the REST resolver, the batch processor.

Many handlers are written this way. Whatever the order of the decorators, a block
must still answer 403 (the resolver's catch-all exception handler must not turn it
into a 500), and the user's own log lines and metrics must still be flushed.
"""
from __future__ import annotations

import io
import json
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event

ATTACK = "nobody' OR '1'='1"


class Stack:
    """A Powertools app around a sqlite3 lookup, with its own Logger stream and Metrics namespace."""

    def __init__(self) -> None:
        self.namespace = f"Shop{uuid.uuid4().hex[:8]}"
        self.log = io.StringIO()
        self.logger = Logger(service=f"shop-{uuid.uuid4().hex[:8]}", stream=self.log)
        self.metrics = Metrics(namespace=self.namespace, service="shop")
        self.app = APIGatewayRestResolver()
        self.exception_handler_calls: list[str] = []
        app, logger, metrics = self.app, self.logger, self.metrics

        @app.get("/products")
        def products() -> dict:
            name = app.current_event.get_query_string_value("name", "")
            logger.info("looking up", extra={"product": name})
            metrics.add_metric(name="Lookups", unit=MetricUnit.Count, value=1)
            connection = sqlite3.connect(":memory:")
            connection.execute("CREATE TABLE products (name TEXT, price INTEGER)")
            connection.executemany("INSERT INTO products VALUES (?, ?)", [("tea", 3), ("coffee", 4)])
            rows = connection.execute(f"SELECT name, price FROM products WHERE name = '{name}'").fetchall()
            return {"products": [{"name": n, "price": p} for n, p in rows]}

        @app.exception_handler(Exception)
        def failed(error: Exception) -> Response:
            self.exception_handler_calls.append(type(error).__name__)
            return Response(status_code=500, content_type=content_types.APPLICATION_JSON,
                            body=json.dumps({"message": "internal error"}))

    def entry(self, event: dict, context: Any) -> dict:
        return self.app.resolve(event, context)

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.getvalue().splitlines() if line.strip()]

    def user_metrics(self, emitted: list[dict]) -> list[dict]:
        return [doc for doc in emitted
                if doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == self.namespace]


def protect_inside(stack: Stack) -> Callable[..., Any]:
    @stack.logger.inject_lambda_context
    @stack.metrics.log_metrics
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        return stack.entry(event, context)
    return handler


def protect_outside(stack: Stack) -> Callable[..., Any]:
    @protect(mode="block")
    @stack.logger.inject_lambda_context
    @stack.metrics.log_metrics
    def handler(event: dict, context: Any) -> dict:
        return stack.entry(event, context)
    return handler


def protect_between(stack: Stack) -> Callable[..., Any]:
    @stack.metrics.log_metrics
    @protect(mode="block")
    @stack.logger.inject_lambda_context
    def handler(event: dict, context: Any) -> dict:
        return stack.entry(event, context)
    return handler


ORDERS = [pytest.param(protect_inside, id="protect-innermost"),
          pytest.param(protect_outside, id="protect-outermost"),
          pytest.param(protect_between, id="protect-between")]


@pytest.mark.parametrize("build", ORDERS)
def test_benign_request_is_unchanged_and_logs_and_metrics_flush(build: Callable[[Stack], Any], records) -> None:
    stack = Stack()
    handler = build(stack)
    response = handler(apigw_v1_event("GET", "/products", query={"name": "tea"}), LambdaContext())
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"products": [{"name": "tea", "price": 3}]}
    [line] = stack.log_lines()
    assert line["message"] == "looking up" and line["product"] == "tea" and line["function_name"] == "test-function"
    [document] = stack.user_metrics(records.metrics())
    assert document["Lookups"] == [1.0] or document["Lookups"] == 1.0
    assert records.detections() == []


@pytest.mark.parametrize("build", ORDERS)
def test_block_answers_403_past_the_resolver_exception_handler_and_user_output_flushes(
        build: Callable[[Stack], Any], records) -> None:
    stack = Stack()
    handler = build(stack)
    response = handler(apigw_v1_event("GET", "/products", query={"name": ATTACK}), LambdaContext())
    assert response["statusCode"] == 403
    assert "coffee" not in response["body"]
    assert stack.exception_handler_calls == []  # the catch-all never saw the block
    [line] = stack.log_lines()  # logged before the sink; the Logger decorator did not lose it
    assert line["product"] == ATTACK
    [document] = stack.user_metrics(records.metrics())  # log_metrics flushed, block or not
    assert document["Lookups"] in ([1.0], 1.0)
    [detection] = records.detections()
    assert (detection["protection"], detection["action"]) == ("sql_injection", "blocked")


@pytest.mark.parametrize("build", ORDERS)
def test_next_invocation_after_a_block_is_clean(build: Callable[[Stack], Any], records) -> None:
    stack = Stack()
    handler = build(stack)
    assert handler(apigw_v1_event("GET", "/products", query={"name": ATTACK}), LambdaContext())["statusCode"] == 403
    records.clear()
    response = handler(apigw_v1_event("GET", "/products", query={"name": "coffee"}), LambdaContext())
    assert json.loads(response["body"]) == {"products": [{"name": "coffee", "price": 4}]}
    assert records.detections() == []
    assert len(stack.user_metrics(records.metrics())) == 1


def test_report_mode_leaves_the_powertools_stack_alone(records) -> None:
    stack = Stack()

    @stack.logger.inject_lambda_context
    @stack.metrics.log_metrics
    @protect(mode="report")
    def handler(event: dict, context: Any) -> dict:
        return stack.entry(event, context)

    response = handler(apigw_v1_event("GET", "/products", query={"name": ATTACK}), LambdaContext())
    assert response["statusCode"] == 200
    assert len(json.loads(response["body"])["products"]) == 2  # the flaw, reported, not stopped
    [detection] = records.detections()
    assert detection["action"] == "reported"


def test_batch_processor_cannot_swallow_a_block_as_a_partial_failure(records) -> None:
    """BatchProcessor turns each record's Exception into a partial failure; a block is not one of them:
    the invocation fails with RequestBlocked, and the queue's retry and DLQ settings apply to the batch."""
    processor = BatchProcessor(event_type=EventType.SQS)
    database = {}

    def record_handler(record: Any) -> None:
        connection = sqlite3.connect(":memory:")
        connection.execute("CREATE TABLE orders (item TEXT)")
        item = json.loads(record.body)["item"]
        connection.execute(f"INSERT INTO orders VALUES ('{item}')")
        database[item] = connection.execute("SELECT count(*) FROM orders").fetchone()[0]

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)

    benign = handler(sqs_event({"item": "tea"}, {"item": "green tea, 2 bags"}), LambdaContext())
    assert benign == {"batchItemFailures": []} and set(database) == {"tea", "green tea, 2 bags"}
    with pytest.raises(RequestBlocked):
        handler(sqs_event({"item": "milk"}, {"item": "x'); DROP TABLE orders; --"}), LambdaContext())
    assert "x'); DROP TABLE orders; --" not in database
    [detection] = records.detections()
    assert detection["input"]["location"] == "records[1].body.item"
