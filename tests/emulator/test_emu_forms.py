"""Unit tests of the form decoding and parameter schemas (no HTTP).

Stripe's v1 API takes ``application/x-www-form-urlencoded`` bodies with nested keys, as the SDK writes
them (https://docs.stripe.com/api#request-body; the SDK's ``stripe/_encode.py``).
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from stripe._encode import _api_encode

from stripe_emulator.errors import ParamError
from stripe_emulator.forms import FormError, decode_form, parse_key, to_plain
from stripe_emulator.params import UNSET, Bool, Int, ListOf, Metadata, Obj, Str, apply_metadata


def sdk_body(params: dict[str, object]) -> str:
    """Encode ``params`` exactly as the SDK does for a v1 request."""
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


def test_parse_key_splits_brackets() -> None:
    """Bracketed keys name nested fields and array indexes (https://docs.stripe.com/api#request-body)."""
    assert parse_key("items[0][price]") == ["items", 0, "price"]
    assert parse_key("expand[]") == ["expand", None]
    assert parse_key("metadata[order_id]") == ["metadata", "order_id"]
    assert parse_key("name") == ["name"]
    assert parse_key("odd[key") == ["odd[key"]


def test_decodes_what_the_sdk_sends() -> None:
    """The SDK indexes arrays, nests hashes and writes booleans as "true"/"false"
    (https://docs.stripe.com/api#request-body)."""
    body = sdk_body(
        {
            "items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}],
            "metadata": {"order": "42", "note": ""},
            "expand": ["data.product", "data.product.default_price"],
            "recurring": {"interval": "month", "usage_type": "metered"},
            "transfer_lookup_key": True,
        }
    )
    assert to_plain(decode_form(body)) == {
        "items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
        "metadata": {"order": "42", "note": ""},
        "expand": ["data.product", "data.product.default_price"],
        "recurring": {"interval": "month", "usage_type": "metered"},
        "transfer_lookup_key": "true",
    }


def test_decodes_empty_brackets_as_appends() -> None:
    """``expand[]=a&expand[]=b`` is the Rack form of an array (https://docs.stripe.com/expand)."""
    assert to_plain(decode_form("expand[]=customer&expand[]=invoice")) == {"expand": ["customer", "invoice"]}


def test_keeps_numeric_hash_keys_apart_from_arrays() -> None:
    """``metadata[0]=x`` is a metadata key "0" (https://docs.stripe.com/api/metadata): the schema decides."""
    tree = decode_form("metadata[0]=x&lookup_keys[0]=k")
    assert Metadata().coerce(tree["metadata"], "metadata") == {"0": "x"}
    assert ListOf(Str()).coerce(tree["lookup_keys"], "lookup_keys") == ["k"]


def test_rejects_a_value_and_a_hash_under_one_key() -> None:
    """``a=1&a[b]=2`` cannot be both a string and a hash (https://docs.stripe.com/api#request-body)."""
    with pytest.raises(FormError) as caught:
        decode_form("recurring=month&recurring[interval]=month")
    assert caught.value.param == "recurring"


def test_schema_coerces_types() -> None:
    """Booleans are "true"/"false", integers are decimal strings (https://docs.stripe.com/api#request-body)."""
    schema = Obj({"active": Bool(), "unit_amount": Int(min=0), "nested": Obj({"name": Str(required=True)})})
    tree = decode_form("active=false&unit_amount=3500&nested[name]=x")
    assert schema.coerce(tree, "") == {"active": False, "unit_amount": 3500, "nested": {"name": "x"}}


def test_schema_names_unknown_and_missing_nested_params() -> None:
    """Unknown and missing parameters are reported by their full bracketed name
    (https://docs.stripe.com/error-codes#parameter-unknown, #parameter-missing)."""
    schema = Obj({"recurring": Obj({"interval": Str(required=True), "interval_count": Int()})})
    with pytest.raises(ParamError) as unknown:
        schema.coerce(decode_form("recurring[interval]=month&recurring[intervl]=x"), "")
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "recurring[intervl]")
    with pytest.raises(ParamError) as missing:
        schema.coerce(decode_form("recurring[interval_count]=1"), "")
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "recurring[interval]")
    assert missing.value.message == "Missing required param: recurring[interval]."


def test_schema_rejects_bad_scalars() -> None:
    """Malformed integers are ``parameter_invalid_integer`` (https://docs.stripe.com/error-codes#parameter-invalid-integer)."""
    with pytest.raises(ParamError) as caught:
        Int().coerce("12x", "unit_amount")
    assert (caught.value.code, caught.value.param) == ("parameter_invalid_integer", "unit_amount")
    with pytest.raises(ParamError, match="Invalid boolean"):
        Bool().coerce("yes", "active")


def test_empty_string_unsets_only_emptyable_fields() -> None:
    """An empty value unsets a field where Stripe allows it, else ``parameter_invalid_empty``
    (https://docs.stripe.com/error-codes#parameter-invalid-empty)."""
    assert Str(emptyable=True).coerce("", "description") is UNSET
    with pytest.raises(ParamError) as caught:
        Str().coerce("", "name")
    assert caught.value.code == "parameter_invalid_empty"


def test_metadata_patch_semantics() -> None:
    """``metadata[k]=`` removes a key, ``metadata=`` removes all (https://docs.stripe.com/api/metadata)."""
    current = {"a": "1", "b": "2"}
    patch = Metadata().coerce(decode_form("metadata[a]=&metadata[c]=3")["metadata"], "metadata")
    assert apply_metadata(current, patch) == {"b": "2", "c": "3"}
    assert apply_metadata(current, Metadata().coerce("", "metadata")) == {}
