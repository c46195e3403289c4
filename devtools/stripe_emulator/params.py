"""Parameter schemas: validate and coerce a decoded request the way Stripe does.

Each endpoint declares the parameters Stripe documents for it. Anything else is rejected with
``parameter_unknown`` (https://docs.stripe.com/error-codes#parameter-unknown), so code under test
cannot silently send a wrong parameter. Parameters Stripe knows but the emulator does not model are
declared :class:`Unsupported` and rejected with a distinct code instead of being ignored.

Values come from a form tree (:mod:`stripe_emulator.forms`: strings, int-keyed hashes) or from a JSON
body (v2); both coerce to plain Python values. An empty string is Stripe's way to unset a field: it
coerces to :data:`UNSET` where the field is emptyable and is rejected with ``parameter_invalid_empty``
elsewhere.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from .errors import ParamError, missing_parameter, unknown_parameter, unsupported_parameter


class _Unset:
    """The client sent an empty string: clear the field."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()


def child_path(path: str, key: str | int) -> str:
    return str(key) if not path else f"{path}[{key}]"


def _describe(raw: Any) -> str:
    return raw if isinstance(raw, str) else json.dumps(raw, default=str)


def _empty_error(path: str) -> ParamError:
    return ParamError(
        f"You passed an empty string for '{path}'. We assume empty values are an attempt to unset a "
        f"parameter; however '{path}' cannot be unset. You should remove '{path}' from your request or "
        "supply a non-empty value.",
        param=path,
        code="parameter_invalid_empty",
    )


class Param(ABC):
    """One parameter: knows whether it is required and how to coerce a raw value."""

    def __init__(self, *, required: bool = False, emptyable: bool = False) -> None:
        self.required = required
        self.emptyable = emptyable

    def coerce(self, raw: Any, path: str) -> Any:
        if raw == "" or (raw is None and self.emptyable):
            if not self.emptyable:
                raise _empty_error(path)
            return UNSET
        return self.convert(raw, path)

    @abstractmethod
    def convert(self, raw: Any, path: str) -> Any:
        """Coerce a non-empty raw value."""


class Str(Param):
    def __init__(
        self,
        *,
        required: bool = False,
        emptyable: bool = False,
        max_length: int | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(required=required, emptyable=emptyable)
        self.max_length = max_length
        self.choices = choices

    def convert(self, raw: Any, path: str) -> Any:
        if not isinstance(raw, str):
            raise ParamError(f"Invalid string: {_describe(raw)}", param=path)
        if self.max_length is not None and len(raw) > self.max_length:
            raise ParamError(
                f"Invalid string: {raw[:20]}...; must be at most {self.max_length} characters",
                param=path,
            )
        if self.choices is not None and raw not in self.choices:
            options = list(self.choices)
            listed = options[0] if len(options) == 1 else ", ".join(options[:-1]) + f", or {options[-1]}"
            raise ParamError(f"Invalid {path}: must be one of {listed}", param=path)
        return raw


def Enum(*choices: str, required: bool = False) -> Str:
    return Str(required=required, choices=choices)


class Currency(Str):
    """A three-letter ISO code; Stripe answers in lowercase."""

    def convert(self, raw: Any, path: str) -> Any:
        value = super().convert(raw, path)
        if len(value) != 3 or not value.isalpha():
            raise ParamError(f"Invalid currency: {value.lower()}.", param=path)
        return value.lower()


class Int(Param):
    def __init__(
        self,
        *,
        required: bool = False,
        emptyable: bool = False,
        min: int | None = None,
        max: int | None = None,
    ) -> None:
        super().__init__(required=required, emptyable=emptyable)
        self.min = min
        self.max = max

    def convert(self, raw: Any, path: str) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ParamError(f"Invalid integer: {_describe(raw)}", param=path, code="parameter_invalid_integer")
        try:
            value = int(raw)
        except ValueError:
            raise ParamError(f"Invalid integer: {raw}", param=path, code="parameter_invalid_integer") from None
        if self.min is not None and value < self.min:
            raise ParamError(
                f"This value must be greater than or equal to {self.min}.",
                param=path,
                code="parameter_invalid_integer",
            )
        if self.max is not None and value > self.max:
            raise ParamError(
                f"This value must be less than or equal to {self.max} (it currently is '{value}').",
                param=path,
                code="parameter_invalid_integer",
            )
        return value


class Bool(Param):
    def convert(self, raw: Any, path: str) -> Any:
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "false"):
            return raw == "true"
        raise ParamError(f"Invalid boolean: {_describe(raw)}", param=path)


class DecimalStr(Param):
    """A decimal amount, answered by Stripe as a plain decimal string (``"1234.5"``)."""

    def convert(self, raw: Any, path: str) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ParamError(f"Invalid decimal: {_describe(raw)}", param=path)
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise ParamError(f"Invalid decimal: {raw}", param=path) from None
        if not value.is_finite():
            raise ParamError(f"Invalid decimal: {raw}", param=path)
        return format(value.normalize(), "f")


class Float(Param):
    def convert(self, raw: Any, path: str) -> Any:
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ParamError(f"Invalid float: {_describe(raw)}", param=path) from None


class IntOrKeyword(Param):
    """An integer (a timestamp) or one of a few keywords, e.g. ``start_date=now``."""

    def __init__(self, *keywords: str, required: bool = False, emptyable: bool = False) -> None:
        super().__init__(required=required, emptyable=emptyable)
        self.keywords = keywords

    def convert(self, raw: Any, path: str) -> Any:
        if isinstance(raw, str) and raw in self.keywords:
            return raw
        return Int().convert(raw, path)


class Unsupported(Param):
    """Known to Stripe, not modeled by the emulator."""

    def coerce(self, raw: Any, path: str) -> Any:
        raise unsupported_parameter(path)

    def convert(self, raw: Any, path: str) -> Any:  # pragma: no cover - coerce never gets here
        raise unsupported_parameter(path)


class Obj(Param):
    """A hash with declared fields; unknown keys are ``parameter_unknown``."""

    def __init__(
        self,
        fields: Mapping[str, Param],
        *,
        required: bool = False,
        emptyable: bool = False,
    ) -> None:
        super().__init__(required=required, emptyable=emptyable)
        self.fields = dict(fields)

    def extend(self, **fields: Param) -> Obj:
        return Obj({**self.fields, **fields}, required=self.required, emptyable=self.emptyable)

    def convert(self, raw: Any, path: str) -> Any:
        if not isinstance(raw, dict):
            raise ParamError("Invalid object", param=path or None)
        for key in raw:
            if not isinstance(key, str) or key not in self.fields:
                raise unknown_parameter(child_path(path, key))
        result: dict[str, Any] = {}
        for name, param in self.fields.items():
            if name in raw:
                result[name] = param.coerce(raw[name], child_path(path, name))
            elif param.required:
                raise missing_parameter(child_path(path, name))
        return result


class ListOf(Param):
    """An array: ``key[0]=a&key[1]=b`` (or ``key[]=a``) in a form, a list in JSON."""

    def __init__(
        self,
        item: Param,
        *,
        required: bool = False,
        emptyable: bool = False,
        max_items: int | None = None,
    ) -> None:
        super().__init__(required=required, emptyable=emptyable)
        self.item = item
        self.max_items = max_items

    def convert(self, raw: Any, path: str) -> Any:
        if isinstance(raw, dict):
            if not all(isinstance(key, int) for key in raw):
                raise ParamError("Invalid array", param=path)
            items = [(key, raw[key]) for key in sorted(raw)]
        elif isinstance(raw, list):
            items = list(enumerate(raw))
        else:
            raise ParamError("Invalid array", param=path)
        if self.max_items is not None and len(items) > self.max_items:
            raise ParamError(f"Invalid array: {path} can have at most {self.max_items} items.", param=path)
        return [self.item.coerce(value, child_path(path, index)) for index, value in items]


METADATA_MAX_KEYS = 50
METADATA_KEY_LENGTH = 40
METADATA_VALUE_LENGTH = 500


class Metadata(Param):
    """``metadata[k]=v`` sets, ``metadata[k]=`` removes a key, ``metadata=`` removes all keys.

    Coerces to a dict whose ``None`` values mean "remove this key", or to :data:`UNSET`.
    See https://docs.stripe.com/api/metadata.
    """

    def __init__(self) -> None:
        super().__init__(emptyable=True)

    def convert(self, raw: Any, path: str) -> Any:
        if not isinstance(raw, dict):
            raise ParamError("Invalid object", param=path)
        patch: dict[str, str | None] = {}
        for key, value in raw.items():
            name = str(key)
            if len(name) > METADATA_KEY_LENGTH:
                raise ParamError(
                    f"Metadata keys can have up to {METADATA_KEY_LENGTH} characters, but you passed in a "
                    f"key that is {len(name)} characters. Invalid key: {name}",
                    param=child_path(path, name),
                )
            if value is None or value == "":
                patch[name] = None
                continue
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise ParamError("Invalid string: metadata values must be strings", param=path)
            text = str(value)
            if len(text) > METADATA_VALUE_LENGTH:
                raise ParamError(
                    f"Metadata values can have up to {METADATA_VALUE_LENGTH} characters, but you passed in "
                    f"a value that is {len(text)} characters. Invalid value: {text[:40]}...",
                    param=child_path(path, name),
                )
            patch[name] = text
        return patch


def apply_metadata(current: Mapping[str, str], patch: Any) -> dict[str, str]:
    """Apply a coerced :class:`Metadata` value to an object's metadata."""
    if patch is UNSET:
        return {}
    result = dict(current)
    for key, value in (patch or {}).items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    if len(result) > METADATA_MAX_KEYS:
        raise ParamError(
            f"You can have up to {METADATA_MAX_KEYS} metadata keys, but this object would have {len(result)}.",
            param="metadata",
        )
    return result


class RangeFilter(Param):
    """A list filter such as ``created``: an integer, or ``{gt, gte, lt, lte}``."""

    BOUNDS: Final = Obj({"gt": Int(), "gte": Int(), "lt": Int(), "lte": Int()})

    def convert(self, raw: Any, path: str) -> Any:
        if isinstance(raw, dict):
            return self.BOUNDS.convert(raw, path)
        return {"eq": Int().convert(raw, path)}


def in_range(value: int, bounds: Mapping[str, int] | None) -> bool:
    if not bounds:
        return True
    checks = {
        "eq": value.__eq__,
        "gt": value.__gt__,
        "gte": value.__ge__,
        "lt": value.__lt__,
        "lte": value.__le__,
    }
    return all(checks[op](limit) for op, limit in bounds.items())


EXPAND: Final = ListOf(Str())
