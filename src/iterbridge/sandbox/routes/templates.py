"""/api/templates: list with filters and paging, get per medium, upsert, update."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from iterbridge.constants import TEMPLATE_MEDIUMS, TEMPLATE_TYPES
from iterbridge.sandbox.data.project import Template
from iterbridge.sandbox.data.timefmt import parse_input
from iterbridge.sandbox.responses import bad_params, envelope, json_response, not_found
from iterbridge.sandbox.routes.paging import page_bounds, page_links, sort_records, wants_paging
from iterbridge.sandbox.routing import Context, Routes, require_fields
from iterbridge.sandbox.world.templates import MEDIUM_OF_PATH

routes = Routes()

SORT_FIELDS = ("id", "name", "createdAt", "updatedAt")
MAX_PAGE_SIZE = 1000
# What a request without filters lists: the recorded response held Email base templates only.
DEFAULT_TYPE, DEFAULT_MEDIUM = "Base", "Email"


def _missing(template_id: Any) -> Exception:
    return bad_params(f"Template ID: {template_id} does not exist for this project")


@routes.get("/api/templates", read_only_key=True)
async def list_templates(ctx: Context) -> Response:
    template_type = ctx.query.get("templateType", DEFAULT_TYPE)
    medium = ctx.query.get("messageMedium", DEFAULT_MEDIUM)
    if template_type not in TEMPLATE_TYPES:
        raise bad_params(f"Invalid templateType: {template_type}. Valid values: {', '.join(TEMPLATE_TYPES)}")
    if medium not in TEMPLATE_MEDIUMS:
        raise bad_params(f"Invalid messageMedium: {medium}. Valid values: {', '.join(TEMPLATE_MEDIUMS)}")
    bounds = []
    for name in ("startDateTime", "endDateTime"):
        raw = ctx.query.get(name)
        value = parse_input(raw) if raw else None
        if raw and value is None:
            raise bad_params(f"Invalid {name}: {raw}. Expected yyyy-MM-dd HH:mm:ss ZZ")
        bounds.append(value)
    start, end = bounds
    found = [
        t
        for t in ctx.world.templates.all()
        if t.template_type == template_type
        and t.medium == medium
        and (start is None or t.summary["createdAt"] >= start)
        and (end is None or t.summary["createdAt"] < end)
    ]
    found = sort_records(found, ctx.query.get("sort") or "id", SORT_FIELDS, _sort_key)
    summaries = [dict(t.summary) for t in found]
    if not wants_paging(ctx):
        return json_response({"templates": summaries})
    page, size = page_bounds(ctx, 20, MAX_PAGE_SIZE)
    body: dict[str, Any] = {"templates": summaries[(page - 1) * size : page * size]}
    body.update(page_links(ctx, page, size, len(summaries)))
    body["totalTemplatesCount"] = len(summaries)
    return json_response(body)


def _sort_key(template: Template, field: str) -> Any:
    return template.summary.get("templateId" if field == "id" else field)


@routes.get("/api/templates/getByClientTemplateId", read_only_key=True)
async def by_client_template_id(ctx: Context) -> Response:
    client_id = ctx.query.get("clientTemplateId")
    if not client_id:
        raise bad_params("clientTemplateId is required")
    entries = []
    for template in ctx.world.templates.by_client_id(client_id):
        entry: dict[str, Any] = {"templateId": template.id}
        if "campaignId" in template.summary:
            entry["campaignId"] = template.summary["campaignId"]
        entry["locales"] = []
        entries.append(entry)
    return json_response({"templates": entries})


@routes.post("/api/templates/bulkDelete")
async def bulk_delete(ctx: Context) -> Response:
    body = await ctx.json()
    errors = require_fields(body, "ids", kinds={"ids": list})
    if errors:
        raise await ctx.bad_body(errors)
    success, failed = [], []
    for template_id in body["ids"]:
        template = ctx.world.templates.get(template_id) if isinstance(template_id, int) else None
        if template is None or "campaignId" in template.summary:
            failed.append(template_id)
        else:
            ctx.world.templates.delete(template_id)
            success.append(template_id)
    result: dict[str, Any] = {"success": success, "failed": failed}
    if failed:
        result["failureReason"] = "Templates that do not exist or belong to a campaign cannot be deleted"
    return json_response(result)


def _medium(ctx: Context) -> str:
    medium = MEDIUM_OF_PATH.get(ctx.params["medium"])
    if medium is None:
        raise not_found(f"Unknown template medium: {ctx.params['medium']}")
    return medium


@routes.get("/api/templates/{medium}/get", read_only_key=True)
async def get_template(ctx: Context) -> Response:
    medium = _medium(ctx)
    template_id = ctx.query_int("templateId")
    if template_id is None:
        raise bad_params("templateId is required")
    template = ctx.world.templates.get(template_id)
    if template is None or template.medium != medium:
        raise _missing(template_id)
    locale = ctx.query.get("locale")
    if locale and locale != template.detail.get("locale", "en"):
        raise not_found(f"No content for locale {locale} in template {template_id}")
    return json_response(template.detail)


@routes.post("/api/templates/{medium}/upsert")
async def upsert_template(ctx: Context) -> Response:
    medium = _medium(ctx)
    body = await ctx.json()
    errors = require_fields(body, "clientTemplateId", kinds={"clientTemplateId": str, "name": str})
    if errors:
        raise await ctx.bad_body(errors)
    store = ctx.world.templates
    matching = store.by_client_id(body["clientTemplateId"], medium)
    for template in matching:
        store.apply(template, body)
    if not matching:
        matching = [store.create(medium, "Base", body)]
    ids = ",".join(str(t.id) for t in matching)
    return envelope(f"Upserted {len(matching)} templates with IDs: {ids}")


@routes.post("/api/templates/{medium}/update")
async def update_template(ctx: Context) -> Response:
    medium = _medium(ctx)
    body = await ctx.json()
    errors = require_fields(body, "templateId", kinds={"templateId": int})
    if errors:
        raise await ctx.bad_body(errors)
    template = ctx.world.templates.get(body["templateId"])
    if template is None or template.medium != medium:
        raise _missing(body["templateId"])
    ctx.world.templates.apply(template, body)
    return envelope()
