"""Round trip: export every readable object of a tiny project, import what Iterable lets an import create into
a brand-new project (the sandbox's `empty` scale), export again, and compare the files.

What may differ is named here, column by column, with the reason:
- ids the target project gives (list, template and campaign ids) are mapped, never compared raw;
- timestamps the server sets (CreatedAt, UpdatedAt, SignupDate, ProfileUpdatedAt, LastModified…);
- what Iterable's API cannot create: system events (sends, opens, clicks…), list types other than Standard,
  devices, campaign states and send history, templates without a ClientTemplateId, workflows.
Everything else must be identical, cell for cell.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from iterbridge.sandbox import Sandbox

from .support import Stats, read_csv, write_csv

Rows = list[dict[str, str]]

# ---- what may differ, and why ------------------------------------------------------------------------------

SERVER_TIMESTAMPS = {
    "Lists": {"CreatedAt"},
    "CatalogItems": {"LastModified"},
    "Users": {"SignupDate", "ProfileUpdatedAt"},
    "Templates": {"CreatedAt", "UpdatedAt"},
    "Campaigns": {"CreatedAt", "UpdatedAt", "StartAt", "EndedAt"},
}
SERVER_IDS = {
    "Lists": {"Id"},  # compared through the id map (by list name)
    "Templates": {"Id", "CampaignId"},  # the template's own id; its campaign's id (mapped)
    "Campaigns": {"Id", "TemplateId"},  # a new campaign gets a copy of its template: a new template id
}
NOT_IMPORTABLE = {
    # lists/create makes Standard lists: Dynamic (segments) and Suppression lists cannot be created by API,
    # nor can the global suppression setting be set.
    "Lists": {"ListType", "IsGlobalSuppressionEnabled"},
    # How the user signed up is Iterable's own record ("API" for an import); devices are registered by the
    # apps (users/registerDeviceToken), not by a profile import.
    "Users": {"SignupSource", "Devices"},
    # State, send size, labels, recurrence and workflow belong to a campaign's life, not to its creation;
    # the creator is the key that created it.
    "Campaigns": {
        "CampaignState",
        "SendSize",
        "Labels",
        "RecurringCampaignId",
        "WorkflowId",
        "CreatedByUserId",
        "UpdatedByUserId",
    },
    # A campaign created by API copies its template as Blast or Triggered; Workflow templates belong to
    # workflows (journeys), which the API cannot create.
    "Templates": {"TemplateType"},
}


def differing(name: str) -> set[str]:
    return SERVER_TIMESTAMPS.get(name, set()) | SERVER_IDS.get(name, set()) | NOT_IMPORTABLE.get(name, set())


def without(rows: Rows, columns: set[str]) -> Rows:
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def by(rows: Rows, *keys: str) -> Rows:
    return sorted(rows, key=lambda row: tuple(row[k] for k in keys))


def mapped_ids(text: str, ids: dict[str, str]) -> str:
    """A JSON array of ids with each id mapped, as a sorted set (Iterable does not keep their order)."""
    return json.dumps(sorted(int(ids[str(i)]) for i in json.loads(text))) if text else text


# ---- the test ----------------------------------------------------------------------------------------------


def test_export_import_export_gives_the_same_files(
    fresh: Callable[..., tuple[Sandbox, Stats]], cli: Callable[..., Result], tmp_path: Path
) -> None:
    source, _ = fresh("tiny")
    target, _ = fresh("empty")
    first, second, work = tmp_path / "first", tmp_path / "second", tmp_path / "work"
    work.mkdir()

    exported = cli("export", "--all", "-o", str(first), target=source)
    assert exported.exit_code == 0, exported.output
    files = sorted(p.name for p in first.iterdir())
    assert files == sorted(
        f"{name}.csv"
        for name in ("Campaigns", "CampaignMetrics", "Catalogs", "CatalogItems", "Channels", "Events", "Lists",
                     "ListUsers", "MessageTypes", "Templates", "Users", "UserFields")
    )  # fmt: skip
    assert not list(first.glob(".*")), "no temporary files left behind"

    def load(directory: Path, name: str) -> Rows:
        return read_csv(directory / f"{name}.csv")

    def run_import(name: str, path: Path, *options: str, rejected: int = 0) -> Result:
        result = cli("import", name, str(path), "--rejects", str(work / f"{name}.rejects.csv"), *options,
                     target=target)  # fmt: skip
        assert f"{rejected:,} rejected" in result.stderr, result.stderr
        assert result.exit_code == (1 if rejected else 0), result.output
        return result

    # -- into the empty project, in the order references need --
    lists = load(first, "Lists")
    assert len({row["Name"] for row in lists}) == len(lists), "list names identify lists across projects"
    run_import("Lists", first / "Lists.csv")
    run_import("Catalogs", first / "Catalogs.csv")
    run_import("CatalogItems", first / "CatalogItems.csv", "--operation", "upsert")
    users_result = run_import("Users", first / "Users.csv", "--operation", "upsert")
    # An empty project has none of the custom fields: the import creates them (typed by their values).
    assert "new fields: firstName, lastName" in users_result.stderr

    # List ids are the new project's: map them by name.
    new_lists = cli("export", "Lists", "--columns", "Id,Name", "-o", "-", target=target)
    list_ids = {row["Id"]: row["Name"] for row in lists}
    new_id_of = {row["Name"]: row["Id"] for row in read_text_csv(new_lists.stdout)}
    list_map = {old: new_id_of[name] for old, name in list_ids.items()}
    members = [{**row, "ListId": list_map[row["ListId"]]} for row in load(first, "ListUsers")]
    run_import("ListUsers", write_csv(work / "ListUsers.csv", ["ListId", "Email"], members))

    # Events: Iterable's API tracks custom events only. The system events of the file (sends, opens, clicks,
    # purchases…) have no EventName: the import rejects them, each with that reason, and tracks the rest.
    events = load(first, "Events")
    system = [row for row in events if row["EventType"] != "customEvent"]
    assert system
    assert len(system) < len(events)
    run_import("Events", first / "Events.csv", rejected=len(system))
    event_rejects = read_csv(work / "Events.rejects.csv")
    assert {row["_reason"] for row in event_rejects} == {"missing EventName"}
    assert sorted(row["Id"] for row in event_rejects) == sorted(row["Id"] for row in system)

    # Templates are created by upsert on a ClientTemplateId: the base templates that have one are imported,
    # those without one are rejected (nothing in Iterable's API creates a template without it).
    templates = load(first, "Templates")
    keyless = [row for row in templates if not row["ClientTemplateId"]]
    run_import("Templates", first / "Templates.csv", rejected=len(keyless))
    assert {row["_reason"] for row in read_csv(work / "Templates.rejects.csv")} == {"missing ClientTemplateId"}
    # A campaign is created from a template, which it copies. To recreate the campaigns, their templates are
    # imported as base templates under a client template id this test makes up ("rt-" + the old id) …
    campaign_templates = [{**row, "ClientTemplateId": f"rt-{row['Id']}"} for row in templates if row["CampaignId"]]
    header = list(templates[0])
    run_import("Templates", write_csv(work / "CampaignTemplates.csv", header, campaign_templates))
    new_templates = read_text_csv(
        cli("export", "Templates", "--columns", "Id,ClientTemplateId", "-o", "-", target=target).stdout
    )
    template_of = {row["ClientTemplateId"]: row["Id"] for row in new_templates}
    # … then the campaigns, with their template and list ids mapped.
    campaigns = load(first, "Campaigns")
    remapped = [
        {
            **row,
            "TemplateId": template_of[f"rt-{row['TemplateId']}"],
            "ListIds": mapped_ids(row["ListIds"], list_map),
            "SuppressionListIds": mapped_ids(row["SuppressionListIds"], list_map),
        }
        for row in campaigns
    ]
    run_import("Campaigns", write_csv(work / "Campaigns.csv", list(campaigns[0]), remapped))

    # -- export the new project and compare --
    again = cli("export", "--all", "-o", str(second), target=target)
    assert again.exit_code == 0, again.output

    # Objects the import does not touch: the new project's defaults equal the generated project's.
    for name in ("Channels", "MessageTypes"):
        assert (second / f"{name}.csv").read_bytes() == (first / f"{name}.csv").read_bytes(), name
    # Objects that come back byte for byte.
    for name in ("Catalogs",):
        assert (second / f"{name}.csv").read_bytes() == (first / f"{name}.csv").read_bytes(), name

    def compare(name: str, rows_before: Rows, rows_after: Rows, *keys: str) -> None:
        assert len(rows_after) == len(rows_before), name
        before = without(by(rows_before, *keys), differing(name))
        after = without(by(rows_after, *keys), differing(name))
        assert after == before, name

    # Every column is present and in the same order (Users: see below).
    for name in ("Lists", "ListUsers", "CatalogItems", "Events", "Templates", "Campaigns", "CampaignMetrics"):
        assert read_header(second / f"{name}.csv") == read_header(first / f"{name}.csv"), name

    compare("Lists", lists, load(second, "Lists"), "Name")
    assert {row["ListType"] for row in load(second, "Lists")} == {"Standard"}
    assert {row["ListType"] for row in lists} == {"Standard", "Dynamic", "Suppression"}

    compare("ListUsers", members, load(second, "ListUsers"), "ListId", "Email")
    compare("CatalogItems", load(first, "CatalogItems"), load(second, "CatalogItems"), "CatalogName", "ItemId")

    # Events: the custom events come back with the same Id (Iterable's, or the stable hash of the event).
    custom = [row for row in events if row["EventType"] == "customEvent"]
    compare("Events", custom, load(second, "Events"), "Id")

    # Users: same profiles; EmailListIds hold the new list ids; the custom fields are all there, created by
    # the import in the order its rows revealed them (so the column order may differ from the source's).
    users_before, users_after = load(first, "Users"), load(second, "Users")
    assert set(users_after[0]) == set(users_before[0])
    assert list(users_after[0])[:12] == list(users_before[0])[:12]  # Iterable's own fields come first
    for row in users_before:
        row["EmailListIds"] = mapped_ids(row["EmailListIds"], list_map)
    for row in users_after:
        row["EmailListIds"] = mapped_ids(row["EmailListIds"], {i: i for i in list_map.values()})
    compare("Users", users_before, users_after, "Email")

    # UserFields: the same fields with the same types, except the sub-fields Iterable keeps about itself
    # (itblInternal.*) and those of devices, which an import does not create.
    def fields(rows: Rows) -> set[tuple[str, str]]:
        return {(r["Name"], r["Type"]) for r in rows if not r["Name"].startswith(("itblInternal.", "devices."))}

    assert fields(load(second, "UserFields")) == fields(load(first, "UserFields"))

    # Templates: base templates by their client template id; campaign templates through their campaign.
    campaign_map = new_campaign_ids(campaigns, load(second, "Campaigns"))
    templates_after = load(second, "Templates")
    kept = [row for row in templates if row["ClientTemplateId"]]
    for row in templates:
        row["CampaignId"] = campaign_map.get(row["CampaignId"], "")
    made_up = [row for row in templates_after if row["ClientTemplateId"].startswith("rt-")]
    assert len(made_up) == len(campaign_templates)
    compare(
        "Templates",
        [normal_metadata(row) for row in kept + [row for row in templates if row["CampaignId"]]],
        [normal_metadata(row) for row in templates_after if row not in made_up],
        "ClientTemplateId",
        "CampaignId",
    )
    by_campaign = {row["CampaignId"]: row for row in templates_after if row["CampaignId"]}
    for row in templates:
        if row["CampaignId"]:  # the same template kind, except workflows' (which become Triggered)
            kind = by_campaign[row["CampaignId"]]["TemplateType"]
            assert kind == row["TemplateType"] or (row["TemplateType"], kind) == ("Workflow", "Triggered")

    # Campaigns: the same campaigns (name, medium, type, lists); each has its own copy of its template.
    campaigns_after = load(second, "Campaigns")
    for row in campaigns:
        row["ListIds"] = mapped_ids(row["ListIds"], list_map)
        row["SuppressionListIds"] = mapped_ids(row["SuppressionListIds"], list_map)
    for row in campaigns_after:
        for column in ("ListIds", "SuppressionListIds"):
            row[column] = mapped_ids(row[column], {i: i for i in list_map.values()})
        assert by_campaign[row["Id"]]["Id"] == row["TemplateId"]
    compare("Campaigns", campaigns, campaigns_after, "Name", "ListIds", "MessageMedium")

    # CampaignMetrics come from sends and conversions, which no import can make: one row per campaign, with
    # the same columns (header compared above); the figures are not compared.
    assert len(load(second, "CampaignMetrics")) == len(load(first, "CampaignMetrics"))


def new_campaign_ids(before: Rows, after: Rows) -> dict[str, str]:
    """Old campaign id → new: the import created them in the file's order, with increasing ids."""
    assert len(after) == len(before)
    created = sorted(int(row["Id"]) for row in after)
    return {row["Id"]: str(new) for row, new in zip(before, created, strict=True)}


def normal_metadata(row: dict[str, str]) -> dict[str, str]:
    """Metadata repeats the template's ids and timestamps (named above); the rest of it must match."""
    if not row["Metadata"]:
        return row
    metadata = {
        k: v
        for k, v in json.loads(row["Metadata"]).items()
        if k not in ("templateId", "createdAt", "updatedAt", "campaignId", "clientTemplateId")
    }
    return {**row, "Metadata": json.dumps(metadata, sort_keys=True)}


def read_header(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8").split("\r\n", 1)[0].split(",")


def read_text_csv(text: str) -> Rows:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text, newline="")))
