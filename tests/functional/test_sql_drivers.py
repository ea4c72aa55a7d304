"""SQL injection through the other drivers: real PostgreSQL and MariaDB servers, and boto3 on moto."""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event
from tests.conftest import require_server

ATTACK = "' OR '1'='1"
UNION = "' UNION SELECT secret, secret FROM secrets --"
BENIGN = ["O'Brien", "john smith", "山田太郎"]  # O'Brien travels as a parameter; the others inline too


def _pg_dsn() -> str:
    return os.environ.get("APP_PROTECT_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")


@pytest.fixture
def pg_table() -> Iterator[str]:
    require_server("127.0.0.1", 5432, "PostgreSQL")
    import psycopg

    table = f"users_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_pg_dsn(), autocommit=True) as db:
        db.execute(f"CREATE TABLE {table} (name TEXT)")
        db.execute(f"INSERT INTO {table} VALUES ('alice'), ('bob'), ('O''Brien'), ('john smith'), ('山田太郎')")
    yield table
    with psycopg.connect(_pg_dsn(), autocommit=True) as db:
        db.execute(f"DROP TABLE {table}")


@pytest.fixture
def mysql_table() -> Iterator[str]:
    require_server("127.0.0.1", 3306, "MariaDB")
    import pymysql

    table = f"users_{uuid.uuid4().hex[:8]}"
    db = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test",
                         charset="utf8mb4", autocommit=True)
    with db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (name VARCHAR(100)) CHARACTER SET utf8mb4")
        cursor.execute(f"INSERT INTO {table} VALUES ('alice'), ('bob'), ('O''Brien'), ('john smith'), ('山田太郎')")
    yield table
    with db.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    db.close()


def count(run: Callable[[str], list], table: str) -> int:
    return len(run(f"SELECT name FROM {table}"))


def psycopg_query(statement: str, params: tuple | None = None) -> list:
    import psycopg

    with psycopg.connect(_pg_dsn()) as db, db.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def psycopg_connection_execute(statement: str, params: tuple | None = None) -> list:
    import psycopg

    with psycopg.connect(_pg_dsn()) as db:
        return db.execute(statement, params).fetchall()


def psycopg2_query(statement: str, params: tuple | None = None) -> list:
    import psycopg2

    db = psycopg2.connect(_pg_dsn())
    try:
        with db.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()
    finally:
        db.close()


def psycopg2_dict_cursor(statement: str, params: tuple | None = None) -> list:
    import psycopg2
    import psycopg2.extras

    db = psycopg2.connect(_pg_dsn())
    try:
        with db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
            cursor.execute(statement, params)
            return [tuple(row.values()) for row in cursor.fetchall()]
    finally:
        db.close()


def pymysql_query(statement: str, params: tuple | None = None) -> list:
    import pymysql

    db = pymysql.connect(host="127.0.0.1", user="root", password="", database="test", charset="utf8mb4")
    try:
        with db.cursor() as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall())
    finally:
        db.close()


def pymysql_dict_cursor(statement: str, params: tuple | None = None) -> list:
    import pymysql
    import pymysql.cursors

    db = pymysql.connect(host="127.0.0.1", user="root", password="", database="test", charset="utf8mb4",
                         cursorclass=pymysql.cursors.DictCursor)
    try:
        with db.cursor() as cursor:
            cursor.execute(statement, params)
            return [tuple(row.values()) for row in cursor.fetchall()]
    finally:
        db.close()


PG_DRIVERS = [psycopg_query, psycopg_connection_execute, psycopg2_query, psycopg2_dict_cursor]
MYSQL_DRIVERS = [pymysql_query, pymysql_dict_cursor]


def _cases():
    for run in PG_DRIVERS:
        yield pytest.param(run, "pg_table", id=run.__name__)
    for run in MYSQL_DRIVERS:
        yield pytest.param(run, "mysql_table", id=run.__name__)


@pytest.mark.parametrize(("run", "table_fixture"), list(_cases()))
def test_attacks_blocked_before_the_server_runs_them(run, table_fixture: str, request, records) -> None:
    table = request.getfixturevalue(table_fixture)

    @protect(mode="block")
    def handler(event, context):
        name = event["queryStringParameters"]["name"]
        return {"statusCode": 200,
                "body": json.dumps(run(f"SELECT name FROM {table} WHERE name = '{name}'"), ensure_ascii=False)}

    @protect(mode="block")
    def deleter(event, context):
        name = event["queryStringParameters"]["name"]
        run(f"DELETE FROM {table} WHERE name = '{name}' RETURNING name" if "mysql" not in table_fixture
            else f"DELETE FROM {table} WHERE name = '{name}'")
        return {"statusCode": 200}

    assert handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["statusCode"] == 403
    assert deleter(apigw_v1_event(query={"name": "x' OR name <> 'y"}), LambdaContext())["statusCode"] == 403
    assert count(run, table) == 5  # nothing was deleted: the server never ran the statement
    found = records.detections()
    assert len(found) == 2 and {r["action"] for r in found} == {"blocked"}
    assert found[0]["sink"]["name"].split(".")[0] in ("psycopg", "psycopg2", "pymysql")


@pytest.mark.parametrize(("run", "table_fixture"), list(_cases()))
def test_benign_values_pass_and_report_mode_changes_nothing(run, table_fixture: str, request, records) -> None:
    table = request.getfixturevalue(table_fixture)

    @protect(mode="block")
    def by_parameter(event, context):
        placeholder = "%s"
        rows = run(f"SELECT name FROM {table} WHERE name = {placeholder}",
                   (event["queryStringParameters"]["name"],))
        return {"statusCode": 200, "body": json.dumps(rows, ensure_ascii=False)}

    for value in BENIGN:
        response = by_parameter(apigw_v1_event(query={"name": value}), LambdaContext())
        assert json.loads(response["body"]) == [[value]]

    @protect(mode="report")
    def inline(event, context):
        name = event["queryStringParameters"]["name"]
        return {"statusCode": 200, "body": json.dumps(run(f"SELECT name FROM {table} WHERE name = '{name}'"),
                                                      ensure_ascii=False)}

    assert json.loads(inline(apigw_v1_event(query={"name": "山田太郎"}), LambdaContext())["body"]) == [["山田太郎"]]
    assert records.detections() == []
    assert len(json.loads(inline(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["body"])) == 5
    assert [r["action"] for r in records.detections()] == ["reported"]


def test_mysql_backslash_quote_is_read_as_the_session_reads_it(mysql_table: str, records) -> None:
    # MySQL's default sql_mode: \' is an escaped quote, the whole value one literal (no row has that name)
    @protect(mode="block")
    def handler(event, context):
        name = event["queryStringParameters"]["name"]
        return {"statusCode": 200, "body": json.dumps(pymysql_query(
            f"SELECT name FROM {mysql_table} WHERE name = '{name}' OR name = '{name}'"))}

    assert json.loads(handler(apigw_v1_event(query={"name": "\\' OR 1=1 -- "}), LambdaContext())["body"]) == []
    assert records.detections() == []

    # a session in NO_BACKSLASH_ESCAPES ends the literal at \': OR 1=1 would return every row
    @protect(mode="block")
    def strict(event, context):
        import pymysql

        name = event["queryStringParameters"]["name"]
        db = pymysql.connect(host="127.0.0.1", user="root", password="", database="test", charset="utf8mb4",
                             sql_mode="NO_BACKSLASH_ESCAPES")
        try:
            with db.cursor() as cursor:
                cursor.execute(f"SELECT name FROM {mysql_table} WHERE name = '{name}'")
                return {"statusCode": 200, "body": json.dumps(list(cursor.fetchall()))}
        finally:
            db.close()

    assert json.loads(strict(apigw_v1_event(query={"name": "O''Brien"}), LambdaContext())["body"]) == [["O'Brien"]]
    assert strict(apigw_v1_event(query={"name": "\\' OR 1=1 -- "}), LambdaContext())["statusCode"] == 403


def test_mysql_backslash_in_double_quotes_turns_the_next_input_live(mysql_table: str, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        params = event["queryStringParameters"]
        pymysql_query(f'DELETE FROM {mysql_table} WHERE name = "{params["a"]}" AND name = "{params["b"]}"')
        return {"statusCode": 200}

    attack = {"a": "x\\", "b": " OR 1=1 -- "}
    assert handler(apigw_v1_event(query=attack), LambdaContext())["statusCode"] == 403
    assert count(pymysql_query, mysql_table) == 5  # nothing was deleted
    assert records.detections()[0]["input"]["location"] == "query.a"  # its backslash escapes the closing quote
    assert handler(apigw_v1_event(query={"a": "it's", "b": "C:\\\\temp"}), LambdaContext())["statusCode"] == 200
    assert len(records.detections()) == 1


def test_psycopg_copy_and_stream_are_checked(pg_table: str, records) -> None:
    import psycopg

    @protect(mode="block")
    def copy(event, context):
        name = event["queryStringParameters"]["name"]
        statement = f"COPY (SELECT name FROM {pg_table} WHERE name = '{name}') TO STDOUT"
        with psycopg.connect(_pg_dsn()) as db, db.cursor() as cursor, cursor.copy(statement) as out:
            rows = [bytes(chunk).decode() for chunk in out]
        return {"statusCode": 200, "body": json.dumps(rows)}

    @protect(mode="block")
    def stream(event, context):
        name = event["queryStringParameters"]["name"]
        with psycopg.connect(_pg_dsn()) as db, db.cursor() as cursor:
            rows = [list(row) for row in cursor.stream(f"SELECT name FROM {pg_table} WHERE name = '{name}'")]
        return {"statusCode": 200, "body": json.dumps(rows)}

    assert json.loads(copy(apigw_v1_event(query={"name": "bob"}), LambdaContext())["body"]) == ["bob\n"]
    assert json.loads(stream(apigw_v1_event(query={"name": "bob"}), LambdaContext())["body"]) == [["bob"]]
    assert records.detections() == []
    for handler in (copy, stream):
        assert handler(apigw_v1_event(query={"name": UNION}), LambdaContext())["statusCode"] == 403
    assert [r["sink"]["name"] for r in records.detections()] == ["psycopg.Cursor.copy", "psycopg.Cursor.stream"]


def test_psycopg_async_stream_is_checked(pg_table: str, records) -> None:
    import asyncio

    import psycopg

    async def names(name: str) -> list:
        async with await psycopg.AsyncConnection.connect(_pg_dsn()) as db, db.cursor() as cursor:
            return [list(row) async for row in cursor.stream(f"SELECT name FROM {pg_table} WHERE name = '{name}'")]

    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps(asyncio.run(names(event["queryStringParameters"]["name"])))}

    assert json.loads(handler(apigw_v1_event(query={"name": "bob"}), LambdaContext())["body"]) == [["bob"]]
    assert handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["statusCode"] == 403
    assert records.detections()[0]["sink"]["name"] == "psycopg.AsyncCursor.stream"


def test_psycopg2_copy_expert_and_callproc_are_checked(pg_table: str, records) -> None:
    import io

    import psycopg2

    @protect(mode="block")
    def copy(event, context):
        name = event["queryStringParameters"]["name"]
        db = psycopg2.connect(_pg_dsn())
        try:
            out = io.StringIO()
            db.cursor().copy_expert(f"COPY (SELECT name FROM {pg_table} WHERE name = '{name}') TO STDOUT", out)
            return {"statusCode": 200, "body": json.dumps(out.getvalue())}
        finally:
            db.close()

    @protect(mode="block")
    def call(event, context):
        db = psycopg2.connect(_pg_dsn())
        try:
            cursor = db.cursor()
            cursor.callproc(event["queryStringParameters"]["function"], ("bob",))
            return {"statusCode": 200, "body": json.dumps(cursor.fetchall())}
        finally:
            db.close()

    assert json.loads(copy(apigw_v1_event(query={"name": "bob"}), LambdaContext())["body"]) == "bob\n"
    assert json.loads(call(apigw_v1_event(query={"function": "upper"}), LambdaContext())["body"]) == [["BOB"]]
    assert json.loads(call(apigw_v1_event(query={"function": "pg_catalog.upper"}), LambdaContext())["body"]) \
        == [["BOB"]]
    assert records.detections() == []
    assert copy(apigw_v1_event(query={"name": UNION}), LambdaContext())["statusCode"] == 403
    attack = f"upper('x') AS u, (SELECT count(*) FROM {pg_table}) AS n FROM lower"
    assert call(apigw_v1_event(query={"function": attack}), LambdaContext())["statusCode"] == 403
    assert [r["sink"]["name"] for r in records.detections()] == ["psycopg2.cursor.copy_expert",
                                                                  "psycopg2.cursor.callproc"]


def test_percent_doubled_for_a_pyformat_driver_still_correlates(pg_table: str, records) -> None:
    # SQLAlchemy on psycopg2 writes a % of the statement's text as %%, which the driver sends as %
    import psycopg2

    @protect(mode="block")
    def handler(event, context):
        pattern = event["queryStringParameters"]["q"].replace("%", "%%")
        db = psycopg2.connect(_pg_dsn())
        try:
            cursor = db.cursor()
            cursor.execute(f"SELECT name FROM {pg_table} WHERE name LIKE '{pattern}' AND name <> %s", ("bob",))
            return {"statusCode": 200, "body": json.dumps(sorted(cursor.fetchall()))}
        finally:
            db.close()

    assert json.loads(handler(apigw_v1_event(query={"q": "a%"}), LambdaContext())["body"]) == [["alice"]]
    assert handler(apigw_v1_event(query={"q": "x%' OR name LIKE '%"}), LambdaContext())["statusCode"] == 403
    assert records.detections()[0]["input"]["location"] == "query.q"


def test_naive_quote_doubling_does_not_hide_the_backslash_trick(mysql_table: str, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        name = event["queryStringParameters"]["name"].replace("'", "''")  # "escaped", but not for MySQL
        return {"statusCode": 200, "body": json.dumps(pymysql_query(
            f"SELECT name FROM {mysql_table} WHERE name = '{name}'"), ensure_ascii=False)}

    assert handler(apigw_v1_event(query={"name": "\\' OR 1=1 -- "}), LambdaContext())["statusCode"] == 403
    assert records.detections()[0]["input"]["decoded"] == "sql-quoted"
    response = handler(apigw_v1_event(query={"name": "O'Brien"}), LambdaContext())
    assert json.loads(response["body"]) == [["O'Brien"]]


def test_psycopg_composed_sql_is_judged_by_its_text(pg_table: str, records) -> None:
    import psycopg
    from psycopg import sql

    @protect(mode="block")
    def handler(event, context):
        name = event["queryStringParameters"]["name"]
        with psycopg.connect(_pg_dsn()) as db:
            query = sql.SQL("SELECT name FROM {} WHERE name = ").format(sql.Identifier(pg_table)) + sql.SQL(
                f"'{name}'")
            return {"statusCode": 200, "body": json.dumps(db.execute(query).fetchall())}

    assert handler(apigw_v1_event(query={"name": UNION}), LambdaContext())["statusCode"] == 403
    assert json.loads(handler(apigw_v1_event(query={"name": "bob"}), LambdaContext())["body"]) == [["bob"]]


# ------------------------------------------------------------------------------ boto3: PartiQL, RDS Data

@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_dynamodb_partiql_injection(aws, records) -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName="users", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    for user_id, name in (("1", "alice"), ("2", "bob")):
        dynamodb.put_item(TableName="users", Item={"id": {"S": user_id}, "name": {"S": name}})

    sent: list[bytes] = []

    def handler(event, context):
        name = json.loads(event["Records"][0]["body"])["name"]
        client = boto3.client("dynamodb")
        client.meta.events.register("before-send.dynamodb.ExecuteStatement",
                                    lambda request, **_: sent.append(request.body))
        items = client.execute_statement(Statement=f"SELECT * FROM users WHERE name = '{name}'")["Items"]
        return sorted(item["name"]["S"] for item in items)

    assert protect(mode="block")(handler)(sqs_event({"name": "alice"}), LambdaContext()) == ["alice"]
    assert len(sent) == 1
    with pytest.raises(RequestBlocked):
        protect(mode="block")(handler)(sqs_event({"name": "x' OR name <> 'x"}), LambdaContext())
    assert len(sent) == 1  # the statement never left the function
    [record] = records.detections()
    assert record["sink"]["name"] == "boto3.dynamodb.ExecuteStatement"
    assert record["input"]["location"] == "records[0].body.name"
    protect(mode="report")(handler)(sqs_event({"name": "x' OR name <> 'x"}), LambdaContext())
    assert len(sent) == 2  # report mode: the statement is sent, as it would be without us


def test_rds_data_api_injection_never_sends_the_request(aws, records) -> None:
    sent: list[str] = []

    def handler(event, context):
        client = boto3.client("rds-data")
        client.meta.events.register("before-send.rds-data.*", lambda request, **_: sent.append(request.body))
        name = event["queryStringParameters"]["name"]
        client.execute_statement(resourceArn="arn:aws:rds:us-east-1:123456789012:cluster:db",
                                 secretArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
                                 database="app", sql=f"SELECT * FROM users WHERE name = '{name}'")
        return {"statusCode": 200}

    protected = protect(mode="block")(handler)
    assert protected(apigw_v1_event(query={"name": "john smith"}), LambdaContext())["statusCode"] == 200
    assert len(sent) == 1
    assert protected(apigw_v1_event(query={"name": UNION}), LambdaContext())["statusCode"] == 403
    assert len(sent) == 1  # the attack never left the function
    assert records.detections()[0]["sink"]["name"] == "boto3.rds-data.ExecuteStatement"


def test_rds_data_api_execute_sql_is_checked(aws, records) -> None:
    sent: list[str] = []

    def handler(event, context):
        client = boto3.client("rds-data")
        client.meta.events.register("before-send.rds-data.*", lambda request, **_: sent.append(request.body))
        name = event["queryStringParameters"]["name"]
        client.execute_sql(dbClusterOrInstanceArn="arn:aws:rds:us-east-1:123456789012:cluster:db",
                           awsSecretStoreArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
                           database="app", sqlStatements=f"SELECT * FROM users WHERE name = '{name}'")
        return {"statusCode": 200}

    protected = protect(mode="block")(handler)
    assert protected(apigw_v1_event(query={"name": UNION}), LambdaContext())["statusCode"] == 403
    assert sent == []  # the attack never left the function
    assert records.detections()[0]["sink"]["name"] == "boto3.rds-data.ExecuteSql"
