"""local_stack.template: CloudFormation YAML, parameters, intrinsics, environments and routes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.template.api import api_routes, api_settings
from local_stack.template.document import Template, TemplateError, parse_template
from local_stack.template.functions import function_environment, handler_location, layer_directories, load_handler
from local_stack.template.intrinsics import StackResources, resolve_parameters

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROJECT_ROOT = Path(__file__).resolve().parents[2]

SHORT_TAGS = """
Resources:
  R:
    Type: Test
    Properties:
      ref: !Ref Param
      sub: !Sub "arn:${AWS::Partition}:x:${AWS::Region}"
      sub_list: !Sub ["${A}-${B}", {A: 1, B: !Ref Param}]
      getatt_dotted: !GetAtt Table.StreamArn
      getatt_nested: !GetAtt Db.Endpoint.Address
      getatt_list: !GetAtt [Table, Arn]
      if: !If [Cond, yes-value, !Ref AWS::NoValue]
      equals: !Equals [!Ref Stage, prod]
      and: !And [!Condition A, !Not [!Condition B]]
      or: !Or [!Condition A, !Condition B]
      select: !Select [1, !Split [",", "a,b,c"]]
      join: !Join ["-", [a, !Ref Param]]
      map: !FindInMap [M, K, V]
      b64: !Base64 text
      azs: !GetAZs ""
      import: !ImportValue other-stack-output
      json: !ToJsonString {a: 1}
"""


def test_short_tags_become_long_forms() -> None:
    properties = parse_template(SHORT_TAGS)["Resources"]["R"]["Properties"]
    assert properties == {
        "ref": {"Ref": "Param"},
        "sub": {"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}"},
        "sub_list": {"Fn::Sub": ["${A}-${B}", {"A": 1, "B": {"Ref": "Param"}}]},
        "getatt_dotted": {"Fn::GetAtt": ["Table", "StreamArn"]},
        "getatt_nested": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "getatt_list": {"Fn::GetAtt": ["Table", "Arn"]},
        "if": {"Fn::If": ["Cond", "yes-value", {"Ref": "AWS::NoValue"}]},
        "equals": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "and": {"Fn::And": [{"Condition": "A"}, {"Fn::Not": [{"Condition": "B"}]}]},
        "or": {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]},
        "select": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]},
        "join": {"Fn::Join": ["-", ["a", {"Ref": "Param"}]]},
        "map": {"Fn::FindInMap": ["M", "K", "V"]},
        "b64": {"Fn::Base64": "text"},
        "azs": {"Fn::GetAZs": ""},
        "import": {"Fn::ImportValue": "other-stack-output"},
        "json": {"Fn::ToJsonString": {"a": 1}},
    }


def test_the_project_template_loads(project_template: Template) -> None:
    assert project_template["Resources"]["FundersTable"]["Type"] == "AWS::DynamoDB::Table"
    env = project_template["Resources"]["FundersFunction"]["Properties"]["Environment"]["Variables"]
    assert env["FUNDERS_TABLE_NAME"] == {"Ref": "FundersTable"}
    assert env["STRIPE_API_KEY_PARAMETER"]["Fn::If"][0] == "HasFundersStripeKey"


def test_not_a_template() -> None:
    with pytest.raises(TemplateError, match="no Resources"):
        parse_template("a: 1")


def test_parameters_defaults_overrides_and_validation(fixture_template: Template) -> None:
    values = resolve_parameters(fixture_template)
    assert values == {"Stage": "test", "Greeting": "hello", "AlertEmail": "", "Sizes": ["small", "large"]}
    assert resolve_parameters(fixture_template, {"Stage": "prod"})["Stage"] == "prod"
    with pytest.raises(TemplateError, match="not one of"):
        resolve_parameters(fixture_template, {"Stage": "qa"})
    with pytest.raises(TemplateError, match="does not match"):
        resolve_parameters(fixture_template, {"Greeting": "Hello!"})
    with pytest.raises(TemplateError, match="not declared"):
        resolve_parameters(fixture_template, {"Stag": "prod"})


def test_project_function_environment_resolves_against_created_resources(project_template: Template) -> None:
    resources = StackResources(region="us-east-1", stack_name="local")
    resources.record("FundersTable", "AWS::DynamoDB::Table", "local-FundersTable")
    env = function_environment(project_template, "FundersFunction", resources, {"StripeApiBase": "http://127.0.0.1:1"})
    assert env["FUNDERS_TABLE_NAME"] == "local-FundersTable"
    assert env["STRIPE_API_KEY_PARAMETER"] == "/incytes-billing/stripe-api-key"
    assert env["STRIPE_API_BASE"] == "http://127.0.0.1:1"
    assert env["POWERTOOLS_SERVICE_NAME"] == "incytes-billing"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert env["POWERTOOLS_DEV"] == "false"
    assert all(isinstance(v, str) for v in env.values())
    # Without an override, StripeApiBase is the template default: empty means api.stripe.com.
    assert function_environment(project_template, "FundersFunction", resources)["STRIPE_API_BASE"] == ""


def test_an_intrinsic_in_the_function_replaces_the_globals_one() -> None:
    """SAM merges Globals maps key by key but takes an intrinsic function as one value (its GlobalsPlugin
    `_token_of`): the function's `!If` replaces the Globals' `!Sub`, the two are not merged into one map."""
    template = parse_template(
        """
Parameters:
  Shared: {Type: String, Default: shared}
  Own: {Type: String, Default: ""}
Conditions:
  HasOwn: !Not [!Equals [!Ref Own, ""]]
Globals:
  Function:
    Environment:
      Variables:
        KEY: !Sub "/${Shared}"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          KEY: !If [HasOwn, !Sub "/${Own}", !Sub "/${Shared}"]
"""
    )
    resources = StackResources()
    assert function_environment(template, "Fn", resources)["KEY"] == "/shared"
    assert function_environment(template, "Fn", resources, {"Own": "own"})["KEY"] == "/own"


def test_fixture_environment_covers_the_intrinsics(fixture_template: Template) -> None:
    resources = StackResources(region="eu-west-1", account_id="111122223333", stack_name="fx")
    resources.record("ItemsTable", "AWS::DynamoDB::Table", "fx-ItemsTable", StreamArn="arn:stream/1")
    resources.record(
        "EventsQueue", "AWS::SQS::Queue", "https://sqs.eu-west-1.amazonaws.com/111122223333/fx-EventsQueue"
    )
    resources.record(
        "NotificationsTopic", "AWS::SNS::Topic", "arn:aws:sns:eu-west-1:111122223333:fx-NotificationsTopic"
    )
    env = function_environment(fixture_template, "EchoFunction", resources)
    assert env == {
        # Globals first, the function's own variables win
        "ITEMS_TABLE": "fx-ItemsTable",
        "GREETING": "hello",
        "SHARED_FLAG": "own",
        "DEBUGGING": "true",
        "STAGE_PATH": "/test/x/${Literal}",
        "TOPIC_ARN": "arn:aws:sns:eu-west-1:111122223333:fx-NotificationsTopic",
        "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/111122223333/fx-EventsQueue",
        "QUEUE_ARN": "arn:aws:sqs:eu-west-1:111122223333:fx-EventsQueue",
        "STREAM_ARN": "arn:stream/1",
        "TABLE_ARN": "arn:aws:dynamodb:eu-west-1:111122223333:table/fx-ItemsTable",
        "IS_PROD": "no",
        "REGION": "eu-west-1",
        "ACCOUNT": "111122223333",
        "FIRST_SIZE": "small",
        "JOINED": "a|hello|y",
        "LOG_LEVEL": "DEBUG",
        "SUB_VARS": "hello-world",
    }  # OPTIONAL is !If [IsProd, ..., AWS::NoValue]: absent
    prod = function_environment(fixture_template, "EchoFunction", resources, {"Stage": "prod"})
    assert (prod["IS_PROD"], prod["OPTIONAL"], prod["LOG_LEVEL"], prod["STAGE_PATH"]) == (
        "yes",
        "set",
        "INFO",
        "/prod/x/${Literal}",
    )


def test_stream_arn_needs_the_created_table(fixture_template: Template) -> None:
    with pytest.raises(TemplateError, match="StreamArn"):
        function_environment(fixture_template, "EchoFunction", {"ItemsTable": "t"})


def test_unknown_function() -> None:
    template = parse_template("Resources: {T: {Type: AWS::DynamoDB::Table}}")
    with pytest.raises(TemplateError, match="not an AWS::Serverless::Function"):
        function_environment(template, "T", {})


def test_project_routes(project_template: Template) -> None:
    routes = api_routes(project_template)
    assert {(r.method, r.path_template, r.function_logical_id, r.auth) for r in routes} >= {
        ("PUT", "/funders/{funder_id}", "FundersFunction", "AWS_IAM"),
        ("GET", "/funders/{funder_id}", "FundersFunction", "AWS_IAM"),
        ("POST", "/funders/{funder_id}/subscription", "SubscriptionsFunction", "AWS_IAM"),
    }
    # One route per Api event in the template: none lost, none invented.
    events = [
        event
        for resource in project_template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "Api"
    ]
    assert len(routes) == len(events)
    assert {r.api_logical_id for r in routes} == {"BillingApi"}


def test_fixture_routes_methods_and_auth(fixture_template: Template) -> None:
    routes = {(r.method, r.path_template): r for r in api_routes(fixture_template)}
    assert set(routes) == {
        ("ANY", "/echo/{proxy+}"),
        ("GET", "/items/{item_id}"),
        ("PUT", "/items/{item_id}"),
        ("GET", "/items/special"),
        ("POST", "/public"),
        ("GET", "/other"),
    }  # the SQS event is not a route
    assert routes["POST", "/public"].auth == "NONE"
    assert routes["GET", "/other"].auth == "AWS_IAM"
    assert routes["GET", "/other"].function_logical_id == "OtherFunction"


def test_duplicate_routes_are_refused() -> None:
    template = parse_template(
        """
Resources:
  A: {Type: AWS::Serverless::Function, Properties: {Events: {E: {Type: Api, Properties: {Path: /x, Method: get}}}}}
  B: {Type: AWS::Serverless::Function, Properties: {Events: {E: {Type: Api, Properties: {Path: /x, Method: GET}}}}}
"""
    )
    with pytest.raises(TemplateError, match="declared twice"):
        api_routes(template)


def test_api_settings(project_template: Template, fixture_template: Template) -> None:
    project = api_settings(project_template, "BillingApi")
    assert project.stage == "dev"
    assert set(project.gateway_responses) == {"DEFAULT_4XX", "DEFAULT_5XX"}
    fixture = api_settings(fixture_template, "FixtureApi", {"Stage": "prod"})
    assert fixture.stage == "prod"
    assert fixture.binary_media_types == ("application/octet-stream", "image/png")
    assert fixture.gateway_responses["DEFAULT_4XX"].headers == {"X-Gateway": "'local'"}


def test_handler_location_and_layers(fixture_template: Template) -> None:
    location = handler_location(fixture_template, "EchoFunction", FIXTURES)
    assert location.module_file == FIXTURES / "echo" / "app.py"
    assert location.module_name == "_local_stack_function__EchoFunction__app"
    assert layer_directories(fixture_template, "EchoFunction", FIXTURES) == [FIXTURES / "layer"]


def test_project_layer_is_the_shared_package(project_template: Template) -> None:
    assert layer_directories(project_template, "FundersFunction", PROJECT_ROOT) == [PROJECT_ROOT / "layers" / "shared"]


@pytest.fixture
def restore_modules() -> Iterator[None]:
    """load_handler imports into sys.modules: forget what it added, for the tests that follow."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.mark.usefixtures("restore_modules")
def test_load_handler_imports_each_app_py_under_its_own_name(fixture_template: Template) -> None:
    echo = load_handler(fixture_template, "EchoFunction", FIXTURES)
    other = load_handler(fixture_template, "OtherFunction", FIXTURES)
    assert echo.__module__ == "_local_stack_function__EchoFunction__app"
    assert other.__module__ == "_local_stack_function__OtherFunction__app"
    assert echo is not other


def test_load_handler_errors(tmp_path: Path) -> None:
    template = parse_template(
        """
Resources:
  Node: {Type: AWS::Serverless::Function, Properties: {Runtime: nodejs22.x, CodeUri: x, Handler: a.b}}
  Missing: {Type: AWS::Serverless::Function, Properties: {Runtime: python3.13, CodeUri: x, Handler: nope.handler}}
  BadHandler: {Type: AWS::Serverless::Function, Properties: {Runtime: python3.13, CodeUri: x, Handler: handler}}
"""
    )
    with pytest.raises(TemplateError, match="cannot run"):
        load_handler(template, "Node", tmp_path)
    with pytest.raises(TemplateError, match="does not exist"):
        load_handler(template, "Missing", tmp_path)
    with pytest.raises(TemplateError, match=r"<module>\.<function>"):
        load_handler(template, "BadHandler", tmp_path)


def test_unsupported_intrinsic_is_explicit() -> None:
    template = parse_template(
        """
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {X: !ImportValue shared-output}}
"""
    )
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        function_environment(template, "F", {})
