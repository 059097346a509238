"""Generated in-app messages: each user holds a few, from the project's in-app campaigns."""

from __future__ import annotations

import string
from typing import Any

from iterbridge.sandbox.data.project import Project, sending_campaigns
from iterbridge.sandbox.data.rand import Rng, derive
from iterbridge.sandbox.data.timefmt import DAY_MS

K_INAPP = 50
_ALPHABET = string.ascii_letters + string.digits
MESSAGE_LIFETIME_MS = 90 * DAY_MS


def message_id(rng: Rng) -> str:
    return "".join(_ALPHABET[rng.below(len(_ALPHABET))] for _ in range(44))


class InAppGenerator:
    def __init__(self, project: Project) -> None:
        self.project = project
        running = [c for c in project.campaigns if c["messageMedium"] == "InApp" and c["campaignState"] == "Running"]
        self.campaigns = sending_campaigns(project, "InApp") + running
        self._templates = {t.id: t for t in project.templates}

    def for_user(self, index: int, signup_ms: int) -> list[dict[str, Any]]:
        """The user's in-app messages, newest first, as getMessages serves them (before expiry filtering)."""
        if not self.campaigns:
            return []
        rng = Rng(derive(self.project.seed, K_INAPP, index))
        count = rng.weighted((0, 1, 2, 3), (0.4, 0.7, 0.9, 1.0))
        start = max(signup_ms, self.project.anchor_ms - 60 * DAY_MS)
        messages = []
        for _ in range(count):
            campaign = rng.choice(self.campaigns)
            created = start + rng.below(max(1, self.project.anchor_ms - start))
            messages.append(self.message(rng, campaign, created, read=rng.chance(0.4)))
        messages.sort(key=lambda m: m["createdAt"], reverse=True)
        return messages

    def message(
        self,
        rng: Rng,
        campaign: dict[str, Any],
        created_ms: int,
        *,
        read: bool = False,
        data_fields: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        template = self._templates.get(campaign["templateId"])
        detail = template.detail if template else {}
        content: dict[str, Any] = {
            "html": detail.get("html", "<div></div>"),
            # Always present in real answers, `{}` when the template has none (2022 recording).
            "payload": {**detail.get("payload", {}), **(data_fields or {})},
            "inAppDisplaySettings": detail.get(
                "inAppDisplaySettings",
                {
                    "top": {"percentage": 0},
                    "right": {"percentage": 0},
                    "bottom": {"percentage": 0},
                    "left": {"percentage": 0},
                },
            ),
        }
        if "webInAppDisplaySettings" in detail:
            content["webInAppDisplaySettings"] = detail["webInAppDisplaySettings"]
        message: dict[str, Any] = {
            "messageId": message_id(rng),
            "campaignId": campaign["id"],
            "createdAt": created_ms,
            "expiresAt": created_ms + MESSAGE_LIFETIME_MS,
            "content": content,
            "customPayload": {},
            "trigger": {"type": rng.choice(("immediate", "never", "event"))},
            "saveToInbox": "inboxMetadata" in detail,
            "priorityLevel": rng.choice((100.5, 200.5, 300.5)),
            "read": read,
            # Real answers carry these three (2022 recording), as plain values, not the spec's objects.
            "jsonOnly": False,
            "typeOfContent": "Static",
            "messageType": "Other",
        }
        if "inboxMetadata" in detail:
            message["inboxMetadata"] = detail["inboxMetadata"]
        return message
