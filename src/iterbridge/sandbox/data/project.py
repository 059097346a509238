"""The small objects of a generated project, built eagerly: channels, message types, lists, campaigns,
templates and catalog definitions. Records are held in the exact shape the API serves them:
epoch-millisecond timestamps, optional fields omitted when unset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iterbridge.sandbox.config import SandboxConfig, Scale
from iterbridge.sandbox.data import words
from iterbridge.sandbox.data.rand import Rng, derive
from iterbridge.sandbox.data.timefmt import DAY_MS, HOUR_MS, iterable_time

# Kinds of generated record, mixed into every key so streams never overlap.
K_CHANNELS, K_TYPES, K_LISTS, K_CAMPAIGNS, K_TEMPLATES, K_CATALOGS = range(1, 7)

MEDIUMS = ("Email", "Push", "SMS", "InApp")
_SENDING_STATES = ("Running", "Finished", "Aborted", "Archived", "Starting")


@dataclass
class Template:
    """A template: its list summary, its type and medium (the list filters), and its full /get body."""

    summary: dict[str, Any]
    template_type: str
    medium: str
    detail: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.summary["templateId"])


@dataclass
class CatalogDef:
    name: str
    item_count: int
    id_prefix: str
    mappings: dict[str, Any]
    created_ms: int


@dataclass
class Project:
    """The generated, immutable starting point of a sandbox project."""

    config: SandboxConfig
    history_start_ms: int
    channels: list[dict[str, Any]] = field(default_factory=list)
    message_types: list[dict[str, Any]] = field(default_factory=list)
    lists: list[dict[str, Any]] = field(default_factory=list)
    list_rates: dict[int, float] = field(default_factory=dict)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    catalogs: list[CatalogDef] = field(default_factory=list)

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def size(self) -> Scale:
        return self.config.size

    @property
    def anchor_ms(self) -> int:
        return self.config.anchor_ms

    def channel_for(self, medium: str, channel_type: str = "Marketing") -> dict[str, Any]:
        for channel in self.channels:
            if channel["messageMedium"] == medium and channel["channelType"] == channel_type:
                return channel
        return self.channels[0]

    def message_type_for(self, medium: str, channel_type: str = "Marketing") -> dict[str, Any]:
        channel_id = self.channel_for(medium, channel_type)["id"]
        return next(mt for mt in self.message_types if mt["channelId"] == channel_id)


def build_project(config: SandboxConfig) -> Project:
    project = Project(config, history_start_ms=config.anchor_ms - config.size.history_days * DAY_MS)
    _build_channels(project)
    _build_message_types(project)
    _build_lists(project)
    _build_campaigns_and_templates(project)
    _build_base_templates(project)
    _build_catalogs(project)
    project.templates.sort(key=lambda t: t.id)
    return project


# ---- channels and message types ------------------------------------------------------------------------

_CHANNELS = (
    ("Marketing Channel", "Marketing", "Email"),
    ("Transactional Channel", "Transactional", "Email"),
    ("Push Marketing Channel", "Marketing", "Push"),
    ("SMS Marketing Channel", "Marketing", "SMS"),
    ("In-App Marketing Channel", "Marketing", "InApp"),
    ("Default WebPush channel", "Marketing", "WebPush"),
)

# name, channel index, subscription policy, optional extras
_MESSAGE_TYPES: tuple[tuple[str, int, str, dict[str, Any]], ...] = (
    ("Marketing Message", 0, "OptOut", {}),
    ("Weekly Newsletter", 0, "OptIn", {"frequencyCap": {"days": 7, "messages": 1}}),
    ("Transactional Message", 1, "OptOut", {}),
    ("Push Marketing Message", 2, "OptOut", {"rateLimitPerMinute": 5000}),
    ("SMS Marketing Message", 3, "OptIn", {}),
    ("In-App Message", 4, "OptOut", {}),
    ("Default WebPush message type", 5, "OptOut", {}),
)


def _build_channels(project: Project) -> None:
    rng = Rng(derive(project.seed, K_CHANNELS))
    first_id = rng.between(30_000, 80_000)
    for offset, (name, channel_type, medium) in enumerate(_CHANNELS):
        project.channels.append(
            {"id": first_id + offset, "name": name, "channelType": channel_type, "messageMedium": medium}
        )


def _build_message_types(project: Project) -> None:
    rng = Rng(derive(project.seed, K_TYPES))
    first_id = rng.between(40_000, 90_000)
    created = project.history_start_ms - 400 * DAY_MS
    for offset, (name, channel_index, policy, extras) in enumerate(_MESSAGE_TYPES):
        stamp = created + offset * 37_000 + rng.below(1000)
        updated = stamp + rng.below(200 * DAY_MS) if rng.chance(0.4) else stamp
        record: dict[str, Any] = {
            "id": first_id + offset,
            "createdAt": stamp,
            "updatedAt": updated,
            "name": name,
            "channelId": project.channels[channel_index]["id"],
            "subscriptionPolicy": policy,
        }
        record.update(extras)
        project.message_types.append(record)


# ---- lists ------------------------------------------------------------------------------------------

_LIST_NAMES = (
    "Newsletter subscribers", "VIP customers", "Recent purchasers", "Trial users", "Beta testers",
    "Holiday shoppers", "Lapsed customers", "Event attendees", "App users", "Loyalty members",
    "Wishlist savers", "High LTV", "Survey respondents", "Referral program", "Webinar signups",
)  # fmt: skip


def _build_lists(project: Project) -> None:
    rng = Rng(derive(project.seed, K_LISTS))
    count = project.size.lists
    next_id = rng.between(100_000, 900_000)
    span = project.anchor_ms - project.history_start_ms
    for index in range(count):
        if index == 0:
            list_type, name = "Suppression", "Global suppression"
        elif index == 1:
            list_type, name = "Suppression", "Do not contact - legal"
        elif index % 4 == 3:
            list_type, name = "Dynamic", f"Engaged in the last {rng.choice((7, 14, 30, 90))} days"
        else:
            list_type = "Standard"
            name = _LIST_NAMES[index % len(_LIST_NAMES)]
            if index >= len(_LIST_NAMES):
                name += f" {index // len(_LIST_NAMES) + 1}"
        created = project.history_start_ms - 200 * DAY_MS + (index * span) // count + rng.below(DAY_MS)
        record: dict[str, Any] = {"id": next_id, "name": name, "createdAt": created, "listType": list_type}
        if rng.chance(0.5):
            record["description"] = f"{name} — maintained by the lifecycle team"
        if list_type == "Suppression":
            record["isGlobalSuppressionEnabled"] = index == 0
        project.lists.append(record)
        project.list_rates[next_id] = 0.02 if list_type == "Suppression" else 0.05 + 0.5 * rng.random()
        next_id += rng.between(1, 40)


# ---- campaigns and their templates ------------------------------------------------------------------

_STATE_WEIGHTS = {"Finished": 6, "Running": 4, "Archived": 2, "Ready": 1.5, "Draft": 1.5, "Aborted": 1}


def _campaign_plan(rng: Rng, count: int) -> list[tuple[str, str, str]]:
    """(state, type, medium) for each campaign; the first ones cover every state, type and medium."""
    coverage = [
        ("Draft", "Blast", "Email"),
        ("Ready", "Blast", "Push"),
        ("Scheduled", "Blast", "Email"),
        ("Running", "Triggered", "Email"),
        ("Finished", "Blast", "Email"),
        ("Starting", "Blast", "SMS"),
        ("Aborted", "Blast", "Push"),
        ("Recurring", "Blast", "Email"),
        ("Archived", "Triggered", "SMS"),
        ("Running", "Triggered", "InApp"),
        ("Finished", "Blast", "InApp"),
        ("Running", "Triggered", "Push"),
        ("Running", "Triggered", "SMS"),
        ("Draft", "Triggered", "Email"),
    ]
    plan = coverage[:count]
    states = list(_STATE_WEIGHTS)
    edges = []
    running = 0.0
    total = sum(_STATE_WEIGHTS.values())
    for state in states:
        running += _STATE_WEIGHTS[state] / total
        edges.append(running)
    while len(plan) < count:
        state = rng.weighted(states, edges)
        campaign_type = "Triggered" if state == "Running" or rng.chance(0.35) else "Blast"
        medium = rng.weighted(MEDIUMS, (0.55, 0.75, 0.85, 1.0))
        plan.append((state, campaign_type, medium))
    return plan


def _build_campaigns_and_templates(project: Project) -> None:
    rng = Rng(derive(project.seed, K_CAMPAIGNS))
    trng = Rng(derive(project.seed, K_TEMPLATES))
    plan = _campaign_plan(rng, project.size.campaigns)
    start = project.history_start_ms - 30 * DAY_MS
    span = project.anchor_ms - start
    campaign_id = rng.between(1_000_000, 9_000_000)
    template_id = trng.between(1_000_000, 9_000_000)
    standard_lists = [lst["id"] for lst in project.lists if lst["listType"] in ("Standard", "Dynamic")]
    suppression = [lst["id"] for lst in project.lists if lst["listType"] == "Suppression"]
    # Order the plan so that states fit the time line: old campaigns finished, recent ones pending.
    late_states = {"Draft", "Ready", "Scheduled", "Starting", "Running", "Recurring"}
    plan.sort(key=lambda p: (p[0] in late_states, rng.random()))
    for index, (state, campaign_type, medium) in enumerate(plan):
        created = start + (index * span) // len(plan) + rng.below(HOUR_MS * 12)
        updated = created + rng.below(DAY_MS * 3)
        workflow = campaign_type == "Triggered" and rng.chance(0.35)
        topic = words.CAMPAIGN_TOPICS[rng.below(len(words.CAMPAIGN_TOPICS))]
        name = f"{topic} — {medium}" if not workflow else f"{topic} campaign from Workflow {rng.between(10000, 99999)}"
        record: dict[str, Any] = {
            "id": campaign_id,
            "createdAt": created,
            "updatedAt": updated,
            "name": name,
            "templateId": template_id,
            "messageMedium": medium,
            "createdByUserId": rng.choice(words.EDITORS),
        }
        if rng.chance(0.6):
            record["updatedByUserId"] = rng.choice(words.EDITORS)
        record["campaignState"] = state
        if campaign_type == "Blast":
            record["listIds"] = sorted(rng.sample(standard_lists, rng.between(1, 2)))
            record["suppressionListIds"] = [suppression[0]] if suppression and rng.chance(0.7) else []
        else:
            record["suppressionListIds"] = []
        if state in ("Finished", "Aborted", "Archived", "Running", "Starting") and campaign_type == "Blast":
            record["startAt"] = updated
            record["sendSize"] = rng.between(1, max(2, project.size.users // 3))
        if state == "Scheduled":
            record["startAt"] = project.anchor_ms + rng.between(1, 14) * DAY_MS
        if state in ("Finished", "Aborted", "Archived"):
            record["endedAt"] = updated + rng.between(60_000, 3 * HOUR_MS)
        record["labels"] = rng.sample(("promo", "lifecycle", "q4", "retention", "onboarding"), rng.below(3))
        record["type"] = campaign_type
        if workflow:
            record["workflowId"] = rng.between(10_000, 99_999)
        project.campaigns.append(record)
        template_type = "Workflow" if workflow else campaign_type
        project.templates.append(
            _template(project, trng, template_id, template_type, medium, name, created, campaign_id)
        )
        campaign_id += rng.between(1, 50)
        template_id += trng.between(1, 50)
        if state == "Recurring":
            children_start = campaign_id
            for child in range(2):
                child_created = created + (child + 1) * 7 * DAY_MS
                if child_created >= project.anchor_ms:
                    break
                child_record = dict(record)
                child_record.update(
                    id=campaign_id,
                    createdAt=child_created,
                    updatedAt=child_created + HOUR_MS,
                    name=f"{name} ({iterable_time(child_created)[:10]})",
                    campaignState="Finished",
                    startAt=child_created + HOUR_MS,
                    endedAt=child_created + 2 * HOUR_MS,
                    sendSize=rng.between(1, max(2, project.size.users // 3)),
                    recurringCampaignId=record["id"],
                    templateId=template_id,
                )
                project.campaigns.append(child_record)
                project.templates.append(
                    _template(
                        project,
                        trng,
                        template_id,
                        "Blast",
                        medium,
                        child_record["name"],
                        child_created,
                        campaign_id,
                    )
                )
                campaign_id += rng.between(1, 50)
                template_id += trng.between(1, 50)
            del children_start
    project.campaigns.sort(key=lambda c: c["id"])


def sending_campaigns(project: Project, medium: str) -> list[dict[str, Any]]:
    """Campaigns of a medium that have sent messages, in creation order (events draw from these)."""
    found = [c for c in project.campaigns if c["messageMedium"] == medium and c["campaignState"] in _SENDING_STATES]
    return sorted(found, key=lambda c: c["createdAt"])


def _build_base_templates(project: Project) -> None:
    trng = Rng(derive(project.seed, K_TEMPLATES, 2))
    template_id = max((t.id for t in project.templates), default=1_000_000) + trng.between(100, 500)
    for index in range(project.size.base_templates):
        medium = MEDIUMS[index % len(MEDIUMS)]
        created = project.history_start_ms - 90 * DAY_MS + index * 5 * DAY_MS + trng.below(DAY_MS)
        topic = words.CAMPAIGN_TOPICS[trng.below(len(words.CAMPAIGN_TOPICS))]
        template = _template(project, trng, template_id, "Base", medium, f"{topic} base template", created, None)
        if index % 2 == 0:
            client_id = f"tmpl-{medium.lower()}-{index:03d}"
            template.summary["clientTemplateId"] = client_id
            template.detail["clientTemplateId"] = client_id
            if "metadata" in template.detail:
                template.detail["metadata"]["clientTemplateId"] = client_id
        project.templates.append(template)
        template_id += trng.between(1, 50)


def _template(
    project: Project,
    rng: Rng,
    template_id: int,
    template_type: str,
    medium: str,
    name: str,
    created: int,
    campaign_id: int | None,
) -> Template:
    channel_type = (
        "Transactional" if medium == "Email" and template_type == "Triggered" and rng.chance(0.5) else "Marketing"
    )
    message_type_id = project.message_type_for(medium, channel_type)["id"]
    updated = created + rng.below(10 * DAY_MS)
    creator = rng.choice(words.EDITORS)
    summary: dict[str, Any] = {
        "templateId": template_id,
        "createdAt": created,
        "updatedAt": updated,
        "name": name,
        "creatorUserId": creator,
        "messageTypeId": message_type_id,
    }
    if campaign_id is not None:
        summary["campaignId"] = campaign_id
    detail = template_detail(rng, medium, summary)
    return Template(summary, template_type, medium, detail)


def template_detail(rng: Rng, medium: str, summary: dict[str, Any]) -> dict[str, Any]:
    """The /api/templates/{medium}/get body for a template summary (its fields depend on the medium)."""
    name = summary["name"]
    common_tail = {"messageTypeId": summary["messageTypeId"]}
    for optional in ("campaignId", "clientTemplateId"):
        if optional in summary:
            common_tail[optional] = summary[optional]
    if medium == "Email":
        detail: dict[str, Any] = {
            "templateId": summary["templateId"],
            "metadata": dict(summary),
            "name": name,
            "fromName": "Brand Team",
            "fromEmail": "news@brand.example",
            "replyToEmail": "support@brand.example",
            "subject": f"{name}: something new for you, {{{{firstName}}}}",
            "preheaderText": "Open for details",
            "ccEmails": [],
            "bccEmails": [],
            "html": f"<html><body><h1>{name}</h1><p>Hi {{{{firstName}}}},</p>"
            f'<a href="https://brand.example/c/{summary["templateId"]}">Shop now</a>'
            '<p><a href="{{unsubscribeUrl}}">Unsubscribe</a></p></body></html>',
            "plainText": f"{name}\nHi {{{{firstName}}}}, visit https://brand.example\n",
            "cacheDataFeed": False,
            "mergeDataFeedContext": False,
            "creatorUserId": summary["creatorUserId"],
            "dataFeedIds": [],
            "locale": "en",
            "isDefaultLocale": True,
            "googleAnalyticsCampaignName": "",
            "linkParams": [{"key": "utm_source", "value": "iterable"}],
        }
        detail.update(common_tail)
        return detail
    stamps = {
        "templateId": summary["templateId"],
        "createdAt": summary["createdAt"],
        "updatedAt": summary["updatedAt"],
    }
    if medium == "Push":
        detail = {
            **stamps,
            "name": name,
            "message": f"{name} — tap to see what's new",
            "title": name[:40],
            "badge": "1",
            "sound": "default",
            "payload": {"screen": "home"},
            "buttons": [],
            "deeplink": {"ios": "brand://home", "android": "brand://home"},
            "isSilentPush": False,
            "dataFeedIds": [],
            "cacheDataFeed": False,
            "mergeDataFeedContext": False,
            "locale": "en",
        }
    elif medium == "SMS":
        detail = {
            **stamps,
            "name": name,
            "message": f"Brand: {name}. Reply STOP to opt out.",
            "imageUrl": "",
            "trackingDomain": "links.brand.example",
            "googleAnalyticsCampaignName": "",
            "linkParams": [],
            "locale": "en",
        }
    else:
        detail = {
            **stamps,
            "name": name,
            "html": f'<div class="in-app"><h2>{name}</h2><a href="itbl://dismiss">Close</a></div>',
            "inAppDisplaySettings": {
                "top": {"percentage": 10},
                "right": {"percentage": 5},
                "bottom": {"displayOption": "AutoExpand"},
                "left": {"percentage": 5},
                "bgColor": {"alpha": 0.5, "hex": "#000000"},
                "shouldAnimate": True,
            },
            "webInAppDisplaySettings": {"position": "Center"},
            "payload": {},
            "expirationDuration": "now+90d",
            "locale": "en",
        }
        if rng.chance(0.5):
            detail["inboxMetadata"] = {"title": name[:40], "subtitle": "Tap to open", "icon": ""}
    detail.update(common_tail)
    return detail


# ---- catalogs -------------------------------------------------------------------------------------------

PRODUCT_MAPPINGS: dict[str, Any] = {
    "name": "string",
    "description": "string",
    "price": "double",
    "stock": "long",
    "onSale": "boolean",
    "releaseDate": "date",
    "categories": "string",
    "rating": "double",
    "imageUrl": "string",
    "dimensions": {"width": "double", "height": "double", "depth": "double"},
    "warehouse": "geo_location",
}
STORE_MAPPINGS: dict[str, Any] = {
    "name": "string",
    "city": "string",
    "location": "geo_location",
    "openedAt": "date",
    "isFlagship": "boolean",
    "staff": "long",
}


def _build_catalogs(project: Project) -> None:
    created = project.history_start_ms - 120 * DAY_MS
    if project.size.catalog_items == 0:
        return  # an empty project has no catalogs
    stores = max(5, project.size.catalog_items // 50)
    project.catalogs = [
        CatalogDef("products", project.size.catalog_items, "sku", PRODUCT_MAPPINGS, created),
        CatalogDef("stores", stores, "store", STORE_MAPPINGS, created + DAY_MS),
        CatalogDef("empty-catalog", 0, "item", {}, created + 2 * DAY_MS),
    ]
