"""Templates: the generated ones plus upserts, updates, campaign copies and deletions made by API."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from iterbridge.constants import TEMPLATE_MEDIUMS
from iterbridge.sandbox.data.project import Template, template_detail
from iterbridge.sandbox.data.rand import Rng, derive

if TYPE_CHECKING:
    from iterbridge.sandbox.world import World

MEDIUM_OF_PATH = {path: medium for medium, path in TEMPLATE_MEDIUMS.items()}
# Request fields that also live in the list summary (and in an email template's metadata).
_SUMMARY_FIELDS = ("name", "messageTypeId", "clientTemplateId", "creatorUserId", "campaignId")


class TemplateStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self.records: dict[int, Template] = {t.id: copy.deepcopy(t) for t in world.project.templates}
        self._next_id = max(self.records, default=1_000_000) + 11

    def get(self, template_id: int) -> Template | None:
        return self.records.get(template_id)

    def all(self) -> list[Template]:
        return list(self.records.values())

    def by_client_id(self, client_template_id: str, medium: str | None = None) -> list[Template]:
        return [
            t
            for t in self.records.values()
            if t.summary.get("clientTemplateId") == client_template_id and (medium is None or t.medium == medium)
        ]

    def _new_id(self) -> int:
        template_id = self._next_id
        self._next_id += 5
        return template_id

    def create(self, medium: str, template_type: str, fields: dict[str, Any]) -> Template:
        now = self.world.now()
        template_id = self._new_id()
        summary: dict[str, Any] = {
            "templateId": template_id,
            "createdAt": now,
            "updatedAt": now,
            "name": fields.get("name") or "Untitled template",
            "creatorUserId": fields.get("creatorUserId") or "api@brand.example",
            "messageTypeId": fields.get("messageTypeId") or self.world.project.message_type_for(medium)["id"],
        }
        for optional in ("campaignId", "clientTemplateId"):
            if fields.get(optional) is not None:
                summary[optional] = fields[optional]
        rng = Rng(derive(self.world.project.seed, 77, template_id))
        template = Template(summary, template_type, medium, template_detail(rng, medium, summary))
        self.apply(template, fields)
        self.records[template_id] = template
        return template

    def copy_for_campaign(self, original: Template, campaign_id: int, template_type: str) -> int:
        """campaigns/create gives the campaign its own copy of the template."""
        template_id = self._new_id()
        now = self.world.now()
        copied = copy.deepcopy(original)
        copied.summary.update(templateId=template_id, createdAt=now, updatedAt=now, campaignId=campaign_id)
        copied.summary.pop("clientTemplateId", None)
        copied.template_type = template_type
        copied.detail["templateId"] = template_id
        copied.detail.pop("clientTemplateId", None)
        copied.detail["campaignId"] = campaign_id
        self._sync_stamps(copied)
        self.records[template_id] = copied
        return template_id

    def apply(self, template: Template, fields: dict[str, Any]) -> None:
        """Write request fields onto a template (update and upsert)."""
        for name, value in fields.items():
            if name in ("templateId", "createdAt", "updatedAt", "metadata"):
                continue
            template.detail[name] = copy.deepcopy(value)
            if name in _SUMMARY_FIELDS:
                template.summary[name] = value
        template.summary["updatedAt"] = self.world.now()
        self._sync_stamps(template)

    def delete(self, template_id: int) -> bool:
        return self.records.pop(template_id, None) is not None

    @staticmethod
    def _sync_stamps(template: Template) -> None:
        if "metadata" in template.detail:
            template.detail["metadata"] = dict(template.summary)
        else:
            for stamp in ("createdAt", "updatedAt"):
                template.detail[stamp] = template.summary[stamp]
