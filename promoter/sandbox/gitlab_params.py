"""Request parameters the way GitLab's Grape API reads them.

Grape merges the query string and the body (JSON or form-encoded) into one
parameter hash; arrays come as JSON lists, ``key[]=`` repeats or
comma-separated strings (``CommaSeparatedToArray`` / ``...ToIntegerArray``).
Type errors answer ``400 {"error": "<name> is invalid"}`` and missing
required parameters ``400 {"error": "<name> is missing"}``, like Grape.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from promoter.sandbox.types import ApiRequest


class ApiError(Exception):
    """An error answer: raised anywhere in a handler, turned into the response."""

    def __init__(self, status: int, body: Any, headers: list[tuple[str, str]] | None = None):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or []


def error(status: int, message: Any) -> ApiError:
    return ApiError(status, {"message": message})


def grape_error(message: str) -> ApiError:
    return ApiError(400, {"error": message})


def _add(params: dict[str, Any], key: str, value: Any) -> None:
    if key.endswith("[]"):
        params.setdefault(key[:-2], [])
        if isinstance(params[key[:-2]], list):
            params[key[:-2]].append(value)
        return
    params[key] = value


def parse(request: ApiRequest) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, values in request.query.items():
        for value in values:
            _add(params, key, value)
    if not request.body:
        return params
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        text = request.body.decode("utf-8", errors="replace")
        for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
            _add(params, key, value)
        return params
    try:
        data = json.loads(request.body)
    except ValueError:
        if ctype == "application/json":
            # Grape/Rack answers a body it cannot parse with this 400.
            raise grape_error(
                "The provided content-type 'application/json' is not supported."
            ) from None
        return params
    if isinstance(data, dict):
        params.update(data)
    return params


def string(params: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise grape_error(f"{key} is missing")
        return None
    if isinstance(value, (dict, list)):
        raise grape_error(f"{key} is invalid")
    return str(value)


def boolean(params: dict[str, Any], key: str) -> bool | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "t"):
        return True
    if text in ("false", "0", "no", "off", "f", ""):
        return False
    raise grape_error(f"{key} is invalid")


def integer(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise grape_error(f"{key} is invalid") from None


def int_list(params: dict[str, Any], key: str) -> list[int] | None:
    value = params.get(key)
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        items = [items]
    result: list[int] = []
    try:
        for item in items:
            if isinstance(item, str) and not item.strip():
                continue
            result.append(int(item))
    except (TypeError, ValueError):
        raise grape_error(f"{key} is invalid") from None
    # "Set to 0 or provide an empty value to unassign all."
    return [i for i in result if i != 0]


def str_list(params: dict[str, Any], key: str) -> list[str] | None:
    value = params.get(key)
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise grape_error(f"{key} is invalid")
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out


def check_at_least_one(params: dict[str, Any], names: tuple[str, ...]) -> None:
    if not any(params.get(n) is not None for n in names):
        listed = ", ".join(names)
        raise grape_error(f"{listed} are missing, at least one parameter must be provided")
