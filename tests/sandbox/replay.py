"""Replaying recorded requests against the sandbox: ids by role, dates shifted to the sandbox's clock, and
values carried from earlier answers to later requests.

Recorded requests name the recorder's project (campaign 4572825, list 58508, user user@example.com …). The
sandbox has other ids, so a replay substitutes them: a table (in the fidelity test) says which recorded value
plays which *role* ("a triggered in-app campaign", "a Standard list with members"), and `Roles` finds a
sandbox value for each role through the sandbox's own API. Values the recording uses as invalid on purpose
(42, 4444, 'foo@', '') are simply not in that table, so they stay invalid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx2
from cassettes import Interaction


@dataclass(frozen=True)
class User:
    email: str
    userId: str


# What each role means; `Roles` resolves them (the ones marked fresh create something, per test).
ROLE_MEANINGS: dict[str, str] = {
    "standard_list": "a Standard list with members",
    "new_list": "a list created for the replay (fresh)",
    "missing_list": "a list id the project does not have",
    "email_template": "an Email base template",
    "push_template": "a Push base template",
    "sms_template": "an SMS base template",
    "inapp_template": "an InApp base template",
    "catalog": "a catalog with items",
    "catalog_item": "an item of that catalog",
    "triggered_sms_campaign": "a running triggered SMS campaign",
    "scheduled_campaign": "a scheduled blast campaign",
    "api_push_template": "a Push template made by templates/push/upsert, with a clientTemplateId (fresh)",
    "client_template_id": "a clientTemplateId that one template has",
    "triggered_email_campaign": "a running triggered Email campaign",
    "triggered_push_campaign": "a running triggered Push campaign",
    "triggered_inapp_campaign": "a running triggered InApp campaign",
    "recurring_campaign": "a recurring campaign",
    "non_recurring_campaign": "a finished blast campaign (not recurring)",
    "blast_campaign": "a finished Email blast campaign",
    "workflow": "a workflow id campaigns are attached to",
    "user": "an existing user with a userId",
    "active_user": "a user whose recent events include triggered email sends, opens, clicks and custom events",
    "inapp_user": "a user with a userId and in-app messages",
}


class Roles:
    """Sandbox values by role, discovered through the sandbox's API on its freshly reset, generated project.

    `discover` finds every role at once, before any test writes, and keeps them: every test starts from the
    same generated state. A role the project cannot fill fails only the tests that need it. Fresh roles
    (FRESH) are made anew by each request for them, through the client given by `with_client`.
    """

    FRESH = frozenset({"new_list", "api_push_template"})

    def __init__(self, client: httpx2.Client) -> None:
        self.client = client
        self._cache: dict[str, Any] = {}
        self._missing: dict[str, str] = {}

    @classmethod
    def discover(cls, base_url: str, api_key: str) -> Roles:
        """Reset the sandbox and find every role in its generated project."""
        with httpx2.Client(base_url=base_url, headers={"Api-Key": api_key}, timeout=30) as client:
            client.post("/_sandbox/reset").raise_for_status()
            roles = cls(client)
            for role in ROLE_MEANINGS:
                if role not in cls.FRESH:
                    try:
                        roles._cache[role] = getattr(roles, f"_{role}")()
                    except LookupError as error:
                        roles._missing[role] = str(error)
        return roles

    def get(self, name: str) -> Any:
        """A role's value; "user.email" is the `email` of the role `user`."""
        role, _, attribute = name.partition(".")
        if role not in ROLE_MEANINGS:
            raise KeyError(f"unknown role {role!r}")
        if role in self._missing:
            raise LookupError(f"no sandbox value for the role {role!r}: {self._missing[role]}")
        if role in self.FRESH:
            value = getattr(self, f"_{role}")()
        else:
            if role not in self._cache:
                self._cache[role] = getattr(self, f"_{role}")()
            value = self._cache[role]
        return getattr(value, attribute) if attribute else value

    def with_client(self, client: httpx2.Client) -> Roles:
        """The same discoveries, making fresh values through another client (a test's)."""
        other = Roles(client)
        other._cache, other._missing = self._cache, self._missing
        return other

    # ---- discovery helpers -----------------------------------------------------------------------------

    def _json(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def _campaigns(self) -> list[dict[str, Any]]:
        if "_campaigns" not in self._cache:
            self._cache["_campaigns"] = sorted(self._json("/api/campaigns")["campaigns"], key=lambda c: c["id"])
        campaigns: list[dict[str, Any]] = self._cache["_campaigns"]
        return campaigns

    def _campaign(self, what: str, test: Callable[[dict[str, Any]], bool]) -> int:
        for campaign in self._campaigns():
            if test(campaign):
                return int(campaign["id"])
        raise LookupError(f"the sandbox project has no {what}")

    def _members(self, list_id: int) -> list[str]:
        response = self.client.get("/api/lists/getUsers", params={"listId": list_id})
        response.raise_for_status()
        return response.text.split()

    def _users(self) -> list[User]:
        """Every list member that has a userId, in email order."""
        if "_users" not in self._cache:
            emails = sorted({email for lst in self._json("/api/lists")["lists"] for email in self._members(lst["id"])})
            users = []
            for email in emails:
                user_id = self._json(f"/api/users/{quote(email)}").get("user", {}).get("userId")
                if user_id is not None:
                    users.append(User(email, str(user_id)))
            self._cache["_users"] = users
        found: list[User] = self._cache["_users"]
        if not found:
            raise LookupError("the sandbox project has no user with a userId")
        return found

    def _template(self, medium: str) -> int:
        templates = self._json("/api/templates", templateType="Base", messageMedium=medium)["templates"]
        if not templates:
            raise LookupError(f"the sandbox project has no {medium} base template")
        return int(templates[0]["templateId"])

    # ---- the roles -------------------------------------------------------------------------------------

    def _standard_list(self) -> int:
        for lst in sorted(self._json("/api/lists")["lists"], key=lambda item: item["id"]):
            if lst["listType"] == "Standard" and self._members(lst["id"]):
                return int(lst["id"])
        raise LookupError("the sandbox project has no Standard list with members")

    def _new_list(self) -> int:
        response = self.client.post("/api/lists", json={"name": "fidelity replay list"})
        response.raise_for_status()
        return int(response.json()["listId"])

    def _missing_list(self) -> int:
        return max(int(lst["id"]) for lst in self._json("/api/lists")["lists"]) + 1

    def _email_template(self) -> int:
        return self._template("Email")

    def _push_template(self) -> int:
        return self._template("Push")

    def _sms_template(self) -> int:
        return self._template("SMS")

    def _inapp_template(self) -> int:
        return self._template("InApp")

    def _catalog(self) -> str:
        for entry in self._json("/api/catalogs", pageSize=100)["params"]["catalogNames"]:
            if self._json(f"/api/catalogs/{entry['name']}/items")["params"]["catalogItemsWithProperties"]:
                return str(entry["name"])
        raise LookupError("the sandbox project has no catalog with items")

    def _catalog_item(self) -> str:
        items = self._json(f"/api/catalogs/{self.get('catalog')}/items")["params"]["catalogItemsWithProperties"]
        return str(items[0]["itemId"])

    def _triggered_sms_campaign(self) -> int:
        return self._triggered("SMS")

    def _scheduled_campaign(self) -> int:
        return self._campaign("scheduled campaign", lambda c: c["campaignState"] == "Scheduled")

    def _api_push_template(self) -> int:
        body = {"clientTemplateId": "fidelity-push", "message": "Sample example push"}
        response = self.client.post("/api/templates/push/upsert", json=body)
        response.raise_for_status()
        found = re.search(
            r"IDs: (\d+)", response.json()["msg"]
        )  # how clients read it: the new template's id is in the msg
        if found is None:
            raise LookupError(f"templates/push/upsert named no template id: {response.text}")
        return int(found.group(1))

    def _client_template_id(self) -> str:
        seen: dict[str, int] = {}
        for medium in ("Email", "Push", "SMS", "InApp"):
            for template in self._json("/api/templates", templateType="Base", messageMedium=medium)["templates"]:
                if template.get("clientTemplateId"):
                    seen[template["clientTemplateId"]] = seen.get(template["clientTemplateId"], 0) + 1
        for client_id, count in sorted(seen.items()):
            if count == 1:
                return client_id
        raise LookupError("no clientTemplateId belongs to exactly one template")

    def _triggered(self, medium: str) -> int:
        return self._campaign(
            f"running triggered {medium} campaign",
            lambda c: c["type"] == "Triggered" and c["messageMedium"] == medium and c["campaignState"] == "Running",
        )

    def _triggered_email_campaign(self) -> int:
        return self._triggered("Email")

    def _triggered_push_campaign(self) -> int:
        return self._triggered("Push")

    def _triggered_inapp_campaign(self) -> int:
        return self._triggered("InApp")

    def _recurring_campaign(self) -> int:
        return self._campaign("recurring campaign", lambda c: c["campaignState"] == "Recurring")

    def _non_recurring_campaign(self) -> int:
        return self._campaign(
            "finished blast campaign", lambda c: c["type"] == "Blast" and c["campaignState"] == "Finished"
        )

    def _blast_campaign(self) -> int:
        return self._campaign(
            "finished Email blast campaign",
            lambda c: c["type"] == "Blast" and c["messageMedium"] == "Email" and c["campaignState"] == "Finished",
        )

    def _workflow(self) -> int:
        return next(int(c["workflowId"]) for c in self._campaigns() if c.get("workflowId") is not None)

    def _user(self) -> User:
        return self._users()[0]

    def _active_user(self) -> User:
        triggered = {c["id"] for c in self._campaigns() if c["type"] == "Triggered"}

        def richness(user: User) -> tuple[int, int]:
            events = self._json(f"/api/events/{quote(user.email)}", limit=30)["events"]
            kinds = {
                "triggered send"
                if e["eventType"] == "emailSend" and e.get("campaignId") in triggered
                else e["eventType"]
                for e in events
            }
            return len(kinds & {"triggered send", "emailOpen", "emailClick", "customEvent"}), len(events)

        return max(self._users(), key=richness)

    def _inapp_user(self) -> User:
        for user in self._users():
            if self._json("/api/inApp/getMessages", email=user.email, count=10)["inAppMessages"]:
                return user
        raise LookupError("no sandbox user with a userId has in-app messages")


# ---- substitution ------------------------------------------------------------------------------------------

# Request fields holding dates relative to the moment of recording; they are moved to the sandbox's clock.
TIME_FIELDS = frozenset({"sendAt", "startDateTime", "endDateTime", "startTime", "endTime"})
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
# Response fields whose recorded values later requests of the same cassette reuse.
CAPTURED_KEYS = frozenset({"scheduledMessageId", "listId", "campaignId", "jobId"})


def shift_time(text: str, delta: timedelta) -> str:
    """A recorded date moved by `delta`, written as it was written."""
    for pattern in _TIME_FORMATS:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return (moment + delta).strftime(pattern)
    return text


@dataclass
class Substitution:
    """Recorded literals (as text) → sandbox values, and how far recorded dates move."""

    values: dict[str, Any] = field(default_factory=dict)
    now_ms: int = 0

    def delta(self, interaction: Interaction) -> timedelta:
        now = datetime.fromtimestamp(self.now_ms / 1000, tz=UTC)
        return now - interaction.recorded_at

    def _scalar(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value) not in self.values:
            return value
        replacement = self.values[str(value)]
        if isinstance(value, int) and str(replacement).lstrip("-").isdigit():
            return int(replacement)
        return str(replacement)

    def _walk(self, value: Any, delta: timedelta, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self._walk(v, delta, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, delta, key) for v in value]
        if key in TIME_FIELDS and isinstance(value, str):
            return shift_time(value, delta)
        return self._scalar(value)

    def request(self, interaction: Interaction) -> tuple[str, list[tuple[str, str]], bytes]:
        """The recorded request's path, query and body, in the sandbox's terms."""
        delta = self.delta(interaction)
        segments = [quote(str(self._scalar(part)), safe="@:+") for part in interaction.path.split("/")]
        query = [
            (name, shift_time(value, delta) if name in TIME_FIELDS else str(self._scalar(value)))
            for name, value in interaction.query
        ]
        body = interaction.request_body
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError:
            parsed = None
        if parsed is not None:
            body = json.dumps(self._walk(parsed, delta), separators=(",", ":")).encode()
        return "/".join(segments), query, body

    def capture(self, recorded: Any, actual: Any, key: str | None = None) -> None:
        """Learn recorded → sandbox values of CAPTURED_KEYS from a recorded answer and the sandbox's."""
        if isinstance(recorded, dict) and isinstance(actual, dict):
            for name, inner in recorded.items():
                if name in actual:
                    self.capture(inner, actual[name], name)
        elif isinstance(recorded, list) and isinstance(actual, list):
            for inner, other in zip(recorded, actual, strict=False):
                self.capture(inner, other, key)
        elif key in CAPTURED_KEYS and isinstance(recorded, (int, str)) and isinstance(actual, (int, str)):
            self.values[str(recorded)] = actual


def url_of(path: str, query: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(query)}" if query else path
