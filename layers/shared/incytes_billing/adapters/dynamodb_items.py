"""What the DynamoDB adapters share: the table, conditional and versioned writes, reading numbers back as integers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from incytes_billing.errors import ConcurrentUpdate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from pydantic import BaseModel


# How the expressions name an item's status: `status` is a DynamoDB reserved word.
STATUS_NAME = {"#s": "status"}


class DynamoDBTableAdapter:
    """An adapter over one DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def _read[M: BaseModel](self, model: type[M], key: dict[str, Any]) -> M | None:
        """The item with this key, read consistently, as `model`; None when there is none."""
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return None if item is None else model.model_validate(plain_numbers(item))

    def _read_many[M: BaseModel](self, model: type[M], keys: list[dict[str, Any]]) -> list[M]:
        """The items with these keys (those that exist), read consistently, as `model`."""
        return as_models(model, batch_get(self._table, keys))

    def _query[M: BaseModel](self, model: type[M], **params: Any) -> list[M]:
        """Every item a query answers (all its pages), as `model`."""
        return as_models(model, every_item(self._table.query, **params))

    def _put_new(self, item: dict[str, Any], *, key: str) -> bool:
        """Write `item` unless the table holds one with its `key` already: False then (nothing written)."""
        return conditional_write(self._table.put_item, Item=item, ConditionExpression=f"attribute_not_exists({key})")

    def _update_if(self, key: dict[str, Any], update: str, *, condition: str, values: dict[str, Any]) -> bool:
        """Apply `update` to the item at `key` if `condition` holds: False when it did not (nothing written).
        The expressions may name the item's status `#s` (STATUS_NAME)."""
        names: dict[str, Any] = {"ExpressionAttributeNames": STATUS_NAME} if "#s" in f"{update} {condition}" else {}
        return conditional_write(
            self._table.update_item,
            Key=key,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            **names,
        )


def is_conditional_check_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def conditional_write[**P](write: Callable[P, object], *args: P.args, **params: P.kwargs) -> bool:
    """Make a conditional write (`table.put_item`, `table.update_item`): False when its condition did not hold
    (nothing written); any other error is raised."""
    try:
        write(*args, **params)
    except ClientError as error:
        if is_conditional_check_failure(error):
            return False
        raise
    return True


def to_item(model: BaseModel) -> dict[str, Any]:
    """A model as an item; a top-level None is left out (a GSI key may not be null; absent reads back as None)."""
    return {key: value for key, value in model.model_dump(mode="json").items() if value is not None}


def put_versioned(table: Table, item: dict[str, Any], *, key: str, expected_version: int | None) -> None:
    """Write `item` if the stored version is `expected_version` (None: only if new); else ConcurrentUpdate."""
    try:
        if expected_version is None:
            table.put_item(Item=item, ConditionExpression=f"attribute_not_exists({key})")
        else:
            table.put_item(
                Item=item,
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":expected": expected_version},
            )
    except ClientError as error:
        if is_conditional_check_failure(error):
            raise ConcurrentUpdate(f"{key} {item[key]} changed concurrently.") from error
        raise


def plain_numbers(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; every number these tables store is an integer."""
    if isinstance(value, dict):
        return {key: plain_numbers(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [plain_numbers(inner) for inner in value]
    return int(value) if isinstance(value, Decimal) else value


def as_models[M: BaseModel](model: type[M], items: Iterable[dict[str, Any]]) -> list[M]:
    """Items read back as `model`."""
    return [model.model_validate(plain_numbers(item)) for item in items]


def batch_get(table: Table, keys: list[dict[str, Any]], *, projection: str | None = None) -> list[dict[str, Any]]:
    """The items with these keys (those that exist), read consistently, 100 keys a request (BatchGetItem's limit);
    only the `projection`'s attributes when given."""
    items: list[dict[str, Any]] = []
    client = table.meta.client  # the resource's client: it (de)serializes attribute values itself
    shape: dict[str, Any] = {"ConsistentRead": True} | ({"ProjectionExpression": projection} if projection else {})
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table.name: {"Keys": keys[start : start + 100], **shape}}
        while request:
            answer = client.batch_get_item(RequestItems=request)
            items.extend(answer["Responses"].get(table.name, []))
            request = dict(answer.get("UnprocessedKeys") or {})
    return items


def every_item(read: Callable[..., Any], **params: Any) -> Iterator[dict[str, Any]]:
    """Every item a `table.query` or `table.scan` answers, page after page."""
    while True:
        page = read(**params)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
