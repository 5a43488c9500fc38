"""What every action uses: CKAN's errors, reading parameters the way CKAN's validators do,
the call an action receives, and the registry of actions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from govshare.portal import catalog
from govshare.portal.ckan.shapes import RESOURCE_SUFFIX, has_rows, package_dict, resource_id
from govshare.portal.models import PortalDataset, PortalMeta

# --- errors ---------------------------------------------------------------------------------


class ActionError(Exception):
    """An action's refusal, rendered in CKAN's error shape with CKAN's status code."""

    def __init__(self, status: int, kind: str, message: str, fields: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.fields = status, kind, message, fields or {}

    def body(self) -> dict[str, Any]:
        return {"__type": self.kind, "message": self.message, **self.fields}


def not_found(message: str) -> ActionError:
    return ActionError(404, "Not Found Error", f"Not found: {message}")


def invalid(parameter: str, message: str) -> ActionError:
    """A bad parameter: CKAN's Validation Error, the parameter as key of its messages."""
    return ActionError(409, "Validation Error", f"{parameter}: {message}", {parameter: [message]})


def denied(message: str) -> ActionError:
    return ActionError(403, "Authorization Error", f"Access denied: {message}")


# --- parameters -----------------------------------------------------------------------------


def get_one(params: dict[str, Any], key: str) -> Any:
    value = params.get(key)
    if isinstance(value, list):
        raise invalid(key, "只能给一个值")
    return value


def get_text(params: dict[str, Any], key: str, default: str = "") -> str:
    value = get_one(params, key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid(key, "须为文本")
    return str(value).strip()


def get_natural(
    params: dict[str, Any], key: str, default: int, *, maximum: int | None = None
) -> int:
    """A non-negative integer; above `maximum` it is lowered to it, as CKAN does."""
    value = get_integer(params, key, default)
    if value < 0:
        raise invalid(key, f"须为非负整数，收到 {value}")
    return value if maximum is None else min(value, maximum)


def get_integer(params: dict[str, Any], key: str, default: int) -> int:
    value = get_one(params, key)
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise invalid(key, f"须为整数，收到 {value!r}")


def get_flag(params: dict[str, Any], key: str, default: bool) -> bool:
    value = get_one(params, key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise invalid(key, f"须为 true 或 false，收到 {value!r}")


def get_json(params: dict[str, Any], key: str) -> Any:
    """A parameter that is JSON: given as such in a JSON body, or as JSON text."""
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise invalid(key, f"须为 JSON，无法解析 {value!r}") from None
    return value


def get_names(params: dict[str, Any], key: str, *, json_text: bool) -> list[str] | None:
    """A list of strings: a list, JSON text of one, or (json_text False) comma-separated."""
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        stripped = value.strip()
        if json_text or stripped.startswith("["):
            value = get_json(params, key)
        else:
            value = [part.strip() for part in stripped.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(key, '须为字符串列表，如 ["a", "b"]')
    return value


def get_sort(text: str, parameter: str, allowed: Iterable[str]) -> list[tuple[str, bool]]:
    """`field [asc|desc], …` as (field, descending) pairs."""
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        quoted = re.fullmatch(r'"([^"]+)"\s*(.*)', part)  # a name with spaces, as CKAN allows
        name, direction = quoted.groups() if quoted else part.partition(" ")[::2]
        direction = direction.strip().lower() or "asc"
        if name not in allowed:
            raise invalid(parameter, f"不能按 {name} 排序；可用：{'、'.join(allowed)}")
        if direction not in ("asc", "desc"):
            raise invalid(parameter, f"排序方向须为 asc 或 desc，收到 {direction!r}")
        keys.append((name, direction == "desc"))
    return keys


# --- running an action ----------------------------------------------------------------------


@dataclass
class Call:
    """What an action sees: the portal session, its parameters, where the portal is."""

    session: Session
    params: dict[str, Any]
    site: str
    path: str  # the path the request came in on, for datastore_search's links
    site_title: str
    api_key: str = ""  # the caller's portal API key, if it gave one
    _meta: list[PortalMeta | None] = field(default_factory=list)

    def meta(self) -> PortalMeta | None:
        if not self._meta:
            self._meta.append(self.session.get(PortalMeta, 1))
        return self._meta[0]

    def package(self, data: PortalDataset) -> dict[str, Any]:
        return package_dict(data, self.site, self.meta())


Action = Callable[[Call], Any]
ACTIONS: dict[str, Action] = {}


def action(function: Action) -> Action:
    """Registers an action under its function's name; its docstring is its help_show."""
    ACTIONS[function.__name__] = function
    return function


def resource_dataset(call: Call, key: str) -> PortalDataset:
    rid = get_text(call.params, key)
    if not rid:
        raise invalid(key, "缺少资源编号")
    data = None
    if rid.endswith(RESOURCE_SUFFIX):
        data = catalog.dataset(call.session, rid.removesuffix(RESOURCE_SUFFIX))
    if data is None or not has_rows(data) or resource_id(data) != rid:
        raise not_found(f"没有资源 {rid}")
    return data
