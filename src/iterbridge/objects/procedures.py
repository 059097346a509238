"""Stored procedures: campaign actions that are not rows (`CALL TriggerCampaign(…)`, `conn.call(…)`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iterbridge.errors import QueryError, UnknownObject

if TYPE_CHECKING:
    from iterbridge.objects.session import Session

_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "integer", "integer list", "object", "boolean"
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass(frozen=True)
class Procedure:
    name: str
    description: str
    params: tuple[Param, ...]
    endpoint: str
    body: Callable[[dict[str, Any]], dict[str, Any]]

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Positional and named arguments → validated values, defaults filled in."""
        if len(args) > len(self.params):
            raise QueryError(f"{self.name} takes at most {len(self.params)} arguments, not {len(args)}")
        given = {p.name: value for p, value in zip(self.params, args, strict=False)}
        known = {p.name.lower(): p.name for p in self.params}
        for name, value in kwargs.items():
            canonical = known.get(name.lower())
            if canonical is None:
                raise QueryError(
                    f"{self.name} has no parameter {name!r}; it takes {', '.join(p.name for p in self.params)}"
                )
            if canonical in given:
                raise QueryError(f"{self.name}: {canonical} given twice")
            given[canonical] = value
        bound: dict[str, Any] = {}
        for param in self.params:
            if param.name not in given or given[param.name] is None:
                if param.required:
                    raise QueryError(f"{self.name} needs {param.name}")
                bound[param.name] = param.default
                continue
            bound[param.name] = _coerce(self.name, param, given[param.name])
        return bound

    def run(self, conn: Session, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> str:
        values = self.bind(args, kwargs or {})
        answer = conn.client.json(self.endpoint, json=self.body(values))
        return str(answer.get("msg") or "Success")


def _coerce(procedure: str, param: Param, value: Any) -> Any:
    try:
        if param.kind == "integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if param.kind == "integer list":
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, (list, tuple)):
                value = [value]
            return [int(v) for v in value]
        if param.kind == "object":
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError
            return value
        if param.kind == "boolean":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                return value.lower() in ("true", "1")
            return bool(value)
    except (TypeError, ValueError):
        pass
    raise QueryError(f"{procedure}: {param.name} must be {_article(param.kind)}, not {value!r}")


def _article(kind: str) -> str:
    return {
        "integer": "an integer",
        "integer list": "a list of integers like [1, 2, 3]",
        "object": "a JSON object",
        "boolean": "true or false",
    }[kind]


PROCEDURES = {
    p.name: p
    for p in (
        Procedure(
            "TriggerCampaign",
            "Send a triggered campaign to lists (POST /api/campaigns/trigger).",
            (
                Param("campaignId", "integer"),
                Param("listIds", "integer list"),
                Param("suppressionListIds", "integer list", []),
                Param("dataFields", "object", {}),
                Param("allowRepeatMarketingSends", "boolean", True),
            ),
            "POST /api/campaigns/trigger",
            lambda v: dict(v),
        ),
        Procedure(
            "AbortCampaign",
            "Abort a running or scheduled campaign (POST /api/campaigns/abort).",
            (Param("campaignId", "integer"),),
            "POST /api/campaigns/abort",
            lambda v: {"campaignId": v["campaignId"]},
        ),
        Procedure(
            "CancelScheduledOrRecurringCampaign",
            "Cancel a scheduled or recurring campaign (POST /api/campaigns/cancel).",
            (Param("campaignId", "integer"),),
            "POST /api/campaigns/cancel",
            lambda v: {"campaignId": v["campaignId"]},
        ),
    )
}


def get_procedure(name: str) -> Procedure:
    for known, procedure in PROCEDURES.items():
        if known.lower() == name.lower():
            return procedure
    raise UnknownObject(name, PROCEDURES)
