"""Fidelity: every recorded request to an endpoint the sandbox implements is replayed against the sandbox, and its
answer must have the recording's status, content type and shape (rules: `cassettes` module docstring).

Each test replays one interaction of a cassette on a freshly reset sandbox, after replaying the cassette's
earlier interactions (whose answers later requests reuse). The tables below are the whole of what the replay
does besides sending the recorded request: ids substituted by role, dates moved to the sandbox's clock, the
state the recorder's project had (preconditions), the conditions some answers were recorded under (a revoked
key, a rate limit), the recordings excluded, and where a shape is read other than literally. A coverage
table (endpoint → interactions matched) is printed at the end of the run.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from cassettes import (
    ITEM,
    MISSING_REFERENCE,
    NORMALISATIONS,
    UNROUTED,
    Interaction,
    Path_,
    PathRules,
    Variant,
    action_not_found_problems,
    all_interactions,
    compare_shapes,
    csv_problems,
    endpoint_of,
    jsonl_problems,
    load_cassettes,
    member_lines_problems,
    reference_present,
    route_of,
    shape_of,
    show,
    unimplemented_name,
)
from replay import ROLE_MEANINGS, Roles, Substitution, url_of
from swagger import FREE_FORM, documents_key, load_spec, response_schema

from helpers import FakeClock
from iterbridge.sandbox import Sandbox

# ---- ids by role --------------------------------------------------------------------------------------------
# Recorded literal → the role whose sandbox value replaces it, per cassette folder or cassette (entries for a
# longer, more specific prefix win). Anything not listed is sent as recorded: that keeps the recording's
# deliberately invalid values (42, 4444, 44444, 'foo@', '', a non-recurring campaign) invalid.

SUBSTITUTIONS: dict[str, dict[str, str]] = {
    "Iterable_Campaigns/create/when_successful": {"231155": "email_template", "58508": "standard_list"},
    "Iterable_Campaigns/metrics/when_successful": {"163898": "blast_campaign"},
    "Iterable_Campaigns/recurring/when_successful": {"181029": "recurring_campaign"},
    "Iterable_Campaigns/recurring/with_non-recurring_campaign_id": {"181030": "non_recurring_campaign"},
    "Iterable_Device/register": {"user@example.com": "user.email"},
    "Iterable_Email/target": {"344851": "triggered_email_campaign", "user@example.com": "user.email"},
    "Iterable_EmailTemplates/get/when_successful": {"194014": "email_template"},
    "Iterable_EmailTemplates/update/when_successful": {"195371": "email_template"},
    "Iterable_Events/for_email": {"user@example.com": "active_user.email"},
    "Iterable_Events/track": {"user@example.com": "user.email"},
    "Iterable_Events/track_bulk": {"user@example.com": "user.email"},
    "Iterable_Events/track_push_open": {"181028": "triggered_push_campaign", "user@example.com": "user.email"},
    "Iterable_InApp": {
        "4572825": "triggered_inapp_campaign",
        "danny@appleuniversity.com": "inapp_user.email",
        "84097": "inapp_user.userId",
        "home@gmail.com": "user.email",
    },
    "Iterable_Lists": {"58508": "standard_list", "56545": "standard_list"},
    "Iterable_Lists/delete/when_successful": {"61933": "new_list"},
    # Recorded after another example had deleted the same list: "which does not exist".
    "Iterable_Lists/delete/when_successful/responds_with_response_object": {"61933": "missing_list"},
    "Iterable_Push": {
        "4445736": "triggered_push_campaign",
        "4498067": "triggered_push_campaign",
        "home@gmail.com": "user.email",
        "77116": "user.userId",
        "84097": "inapp_user.userId",
    },
    "Iterable_PushTemplates/get/when_successful": {"256072": "api_push_template"},
    "Iterable_PushTemplates/update/when_successful": {"256072": "api_push_template"},
    "Iterable_Templates/for_client_template_id/when_successful": {"1": "client_template_id"},
    "Iterable_Users": {"sample-1507173084@example.com": "user.email", "user@example.com": "active_user.email"},
    "Iterable_Users/for_id/when_successful": {"1": "user.userId"},
    "Iterable_Users/delete_by_id/when_successful": {"1": "user.userId"},
    "Iterable_Workflows/trigger": {"58508": "standard_list", "14898": "workflow"},
}

# State the recorder's project had because an earlier example created it; made through the sandbox's API.
PRECONDITIONS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    folder: [("PUT", "/api/metadata/exampletable/foo", {"value": {"bar": "bling"}})]
    for folder in (
        "Iterable_MetadataTable/get/when_successful",
        "Iterable_MetadataTable/list_keys/when_successful",
        "Iterable_MetadataTable/remove/when_successful",
        "Iterable_MetadataTable/delete/when_successful",
    )
}


@dataclass(frozen=True)
class Condition:
    """How the sandbox must be set up for an answer recorded under unusual circumstances."""

    reason: str
    api_key: str | None = None
    faults: dict[str, Any] = field(default_factory=dict)


CONDITIONS: dict[str, Condition] = {
    "Iterable_InApp/messages_for_user_id/when_successful/responds_with_response_object#2": Condition(
        "recorded with a key Iterable did not accept (401 BadApiKey): replayed with a wrong key",
        api_key="revoked-api-key",
    ),
    "Iterable_JsonExporter/export/when_successful/responds_with_response_object#1": Condition(
        "recorded over data.json's 4/min limit (429): replayed with the sandbox's burst_429 fault",
        faults={"burst_429": 1, "burst_endpoint": "/api/export/data.json"},
    ),
}

# Interactions whose recorded answer is not a real API answer: (cassette folder, number) → reason.
EXCLUDED: dict[tuple[str, int], str] = {
    (folder, 1): 'the Swagger example, not a real answer (ISO-string timestamps, "type": {})'
    for folder in (
        "Iterable_InApp/messages_for_email/when_successful",
        "Iterable_InApp/messages_for_user_id/when_successful",
    )
}


def excluded_reason(interaction: Interaction) -> str | None:
    return EXCLUDED.get((interaction.folder, interaction.number))


# ---- where a shape is read other than literally ---------------------------------------------------------------

ANY = "*"
_SIDES = ("top", "right", "bottom", "left")
_PADDING = (
    Variant({"percentage": frozenset({"int", "float"})}),
    Variant({"displayOption": frozenset({"str"})}),
)

COMMON_RULES = PathRules(
    nullable_objects={("params",): "IterableApiResponse.params is an object, null when there is nothing to say"},
    str_or_str_list={("params", ANY, ITEM, "msg"): "Play validation msg: string ≡ list of strings (normalisation)"},
)

ENDPOINT_RULES: dict[str, PathRules] = {
    "GET /api/events/{email}": PathRules(
        free_form={("events", ITEM, "dataFields"): "a custom event's own data"},
    ),
    "GET /api/users/getFields": PathRules(
        maps={("fields",): "field name → type: the names are the project's"},
    ),
    "GET /api/inApp/getMessages": PathRules(
        one_of={
            ("inAppMessages", ITEM, "content", "inAppDisplaySettings", side): (
                _PADDING,
                "a side is a percentage or an AutoExpand display option",
            )
            for side in _SIDES
        },
    ),
}


def rules_for(endpoint: str) -> PathRules:
    rules = ENDPOINT_RULES.get(endpoint, PathRules())
    return PathRules(
        free_form=rules.free_form,
        one_of=rules.one_of,
        nullable_objects={**COMMON_RULES.nullable_objects, **rules.nullable_objects},
        str_or_str_list={**COMMON_RULES.str_or_str_list, **rules.str_or_str_list},
        maps=rules.maps,
    )


# Objects the spec declares without properties, whose keys Iterable documents as open: keys the sandbox adds
# there are accepted (and listed). Extra keys anywhere else must be properties of the spec's definition.
FREE_FORM_PLACES: dict[tuple[str, Path_], str] = {
    ("GET /api/events/{email}", ("events", ITEM)): "event items are heterogeneous, each type with its own fields "
    "(they vary with the event type)",
    **{
        (endpoint, ("user", "dataFields")): "Iterable-managed fields plus the project's own"
        for endpoint in ("GET /api/users/{email}", "GET /api/users/byUserId/{userId}")
    },
}

# Recorded endpoints the sandbox does not serve, and why (a test keeps this list exact).
NOT_IMPLEMENTED: dict[str, str] = {
    "GET /api/experiments/metrics": "A/B experiments are not simulated",
    "GET /api/email/viewInBrowser": "rendering a sent email for a browser is not simulated",
    "GET /e/viewInBrowser": "the page viewInBrowser redirects to, outside the API",
}

# Non-JSON answers: the structural check per endpoint (other plain-text answers are compared as text).
STRUCTURE = {
    "GET /api/lists/getUsers": ("one email per line", member_lines_problems),
    "GET /api/campaigns/metrics": ("CSV with an `id,` header", lambda body: csv_problems(body, "id")),
    "GET /api/export/data.csv": ("CSV with a header", csv_problems),
    "GET /api/export/data.json": ("JSONL objects", jsonl_problems),
    UNROUTED: ("Play's 'Action not found' page", action_not_found_problems),
}

# ---- the catalogue of recorded interactions -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    interaction: Interaction
    endpoint: str | None  # None: the sandbox does not implement it
    excluded: str | None  # why it is not compared


CATALOGUE: dict[str, Entry] = {i.id: Entry(i, endpoint_of(i), excluded_reason(i)) for i in all_interactions()}
REPLAYED = [entry.interaction.id for entry in CATALOGUE.values() if entry.endpoint and not entry.excluded]


# ---- the coverage report --------------------------------------------------------------------------------------


class CoverageReport:
    """Registered as a plugin by the first fidelity test; prints the coverage table in the terminal summary."""

    name = "iterbridge-fidelity-coverage"

    def __init__(self) -> None:
        # endpoint → (where, what documents it) → the keys the sandbox adds there
        self.extras: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        outcomes: dict[str, str] = {}
        for status in ("passed", "failed", "error"):
            for report in terminalreporter.stats.get(status, []):
                test_id = _param_of(getattr(report, "nodeid", ""))
                if test_id is None or (status == "passed" and report.when != "call"):
                    continue
                if outcomes.get(test_id) in (None, "passed"):
                    outcomes[test_id] = status
        write = terminalreporter.write_line
        terminalreporter.section("sandbox fidelity: recorded interactions replayed, per endpoint")
        results: dict[str, list[str]] = defaultdict(list)
        cassettes: dict[str, set[str]] = defaultdict(set)
        for test_id in REPLAYED:
            endpoint = str(CATALOGUE[test_id].endpoint)
            results[endpoint].append(outcomes.get(test_id, "not run"))
            cassettes[endpoint].add(CATALOGUE[test_id].interaction.cassette)
        width = max((len(name) for name in results), default=20)
        write(f"   {'endpoint':<{width}}  matched/interactions  (cassettes)")
        for endpoint in sorted(results):
            outcome = results[endpoint]
            matched, not_run = outcome.count("passed"), outcome.count("not run")
            mark = "ok " if matched == len(outcome) else "!! "
            tail = f", {not_run} not run" if not_run else ""
            write(f"{mark}{endpoint:<{width}}  {matched:>4}/{len(outcome):<4}  ({len(cassettes[endpoint])}{tail})")
        total = sum(outcome.count("passed") for outcome in results.values())
        write(f"   {'every implemented endpoint':<{width}}  {total:>4}/{len(REPLAYED):<4}")
        missing: dict[str, int] = defaultdict(int)
        for entry in CATALOGUE.values():
            if entry.endpoint is None:
                missing[unimplemented_name(entry.interaction)] += 1
        write("not implemented by the sandbox (not replayed):")
        for name, count in sorted(missing.items()):
            write(f"   {name}  ({count} interactions): {NOT_IMPLEMENTED.get(name, '?')}")
        write("excluded recordings (not compared):")
        for entry in CATALOGUE.values():
            if entry.excluded:
                write(f"   {entry.interaction.id}: {entry.excluded}")
        write("replayed under conditions:")
        for test_id, condition in CONDITIONS.items():
            write(f"   {test_id}: {condition.reason}")
        write("normalisations:")
        for name, reason in NORMALISATIONS.items():
            write(f"   {name}: {reason}")
        if self.extras:
            write("keys the sandbox adds beyond the recordings, and what documents them:")
            for endpoint in sorted(self.extras):
                for (where, documented), keys in sorted(self.extras[endpoint].items()):
                    write(f"   {endpoint}  {where}: {', '.join(sorted(keys))}  [{documented}]")


def _param_of(nodeid: str) -> str | None:
    match = re.search(r"test_fidelity\.py::test_replay\[(.+)\]$", nodeid)
    return match.group(1) if match else None


REPORT = CoverageReport()


@pytest.fixture(autouse=True)
def _coverage_report(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.is_registered(REPORT):
        manager.register(REPORT, CoverageReport.name)


@pytest.fixture(scope="module")
def roles(session_sandbox: tuple[Sandbox, FakeClock]) -> Roles:
    """Every role, discovered on the generated project (each test starts from it again)."""
    sandbox, clock = session_sandbox
    clock.now_ms = FakeClock().now_ms
    return Roles.discover(sandbox.url, sandbox.api_key)


# ---- the replay -------------------------------------------------------------------------------------------------


def _substitutions(cassette: str) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for prefix in sorted(SUBSTITUTIONS, key=len):
        if cassette == prefix or cassette.startswith(prefix + "/"):
            chosen.update(SUBSTITUTIONS[prefix])
    return chosen


def _preconditions(folder: str) -> list[tuple[str, str, dict[str, Any]]]:
    return PRECONDITIONS.get(folder, [])


def _send(api: httpx2.Client, interaction: Interaction, substitution: Substitution) -> httpx2.Response:
    condition = CONDITIONS.get(interaction.id)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if condition is not None and condition.api_key is not None:
        headers["Api-Key"] = condition.api_key
    if condition is not None and condition.faults:
        api.post("/_sandbox/faults", json=condition.faults).raise_for_status()
    path, query, body = substitution.request(interaction)
    return api.request(interaction.method, url_of(path, query), content=body or None, headers=headers)


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _value_problems(recorded: Any, actual: Any) -> list[str]:
    """The few values compared: the envelope's code, and a BadJsonBody msg's `[/api/...] body:` prefix."""
    if not (isinstance(recorded, dict) and isinstance(actual, dict) and {"msg", "code"} <= recorded.keys()):
        return []
    problems = []
    if actual.get("code") != recorded["code"]:
        problems.append(f"code: recorded {recorded['code']!r}, sandbox {actual.get('code')!r}")
    if recorded["code"] == "BadJsonBody":
        prefix = re.match(r"\[[^\]]*\] body:", str(recorded["msg"]))
        if prefix is None or not str(actual.get("msg", "")).startswith(prefix.group(0)):
            problems.append(f"msg: the sandbox's does not start like the recorded {str(recorded['msg'])[:60]!r}")
    return problems


def _documentation(interaction: Interaction, endpoint: str, path: Path_, key: str) -> str | None:
    """What documents a key the sandbox adds at `path`, or None."""
    schema = response_schema(load_spec(), interaction.method, interaction.path, interaction.status)
    found = documents_key(load_spec(), schema, path, key)
    if found == FREE_FORM:
        reason = FREE_FORM_PLACES.get((endpoint, path))
        return None if reason is None else f"free-form in the spec; {reason}"
    return found


def compare(interaction: Interaction, endpoint: str, response: httpx2.Response) -> list[str]:
    """Every way the sandbox's answer differs from the recorded one."""
    problems = []
    if response.status_code != interaction.status:
        problems.append(f"status: recorded {interaction.status}, sandbox {response.status_code}")
    served_type = response.headers.get("content-type")
    if served_type != interaction.content_type:
        problems.append(f"content type: recorded {interaction.content_type!r}, sandbox {served_type!r}")
    if (interaction.content_type or "").startswith("application/json"):
        recorded, actual = interaction.json, _json_or_none(response.content)
        if actual is None:
            return [*problems, f"the sandbox's body is not JSON: {response.text[:200]!r}"]
        comparison = compare_shapes(shape_of(recorded), shape_of(actual), rules_for(endpoint))
        problems += comparison.problems + _value_problems(recorded, actual)
        for path, key in comparison.extras:
            documented = _documentation(interaction, endpoint, path, key)
            if documented is None:
                problems.append(
                    f"{show((*path, key))}: a key the recording lacks, documented by neither the spec nor the notes"
                )
            else:
                REPORT.extras[endpoint][(show(path), documented)].add(key)
        return problems
    check = STRUCTURE.get(endpoint)
    recorded_text, actual_text = interaction.body.decode(errors="replace"), response.text
    if check is None:
        if actual_text != recorded_text:
            problems.append(f"text: recorded {recorded_text[:120]!r}, sandbox {actual_text[:120]!r}")
        return problems
    what, structure = check
    problems += [f"recording ({what}): {p}" for p in structure(recorded_text)]
    problems += [f"sandbox ({what}): {p}" for p in structure(actual_text)]
    if recorded_text.strip() and not actual_text.strip():
        problems.append(f"sandbox ({what}): empty, the recording is not")
    return problems


def test_reference_material_is_present() -> None:
    assert reference_present(), MISSING_REFERENCE
    assert load_cassettes(), MISSING_REFERENCE


def test_unreplayed_interactions_are_the_known_ones() -> None:
    """Only the endpoints NOT_IMPLEMENTED names escape the replay; recorded Play 404 pages are replayed too."""
    assert reference_present(), MISSING_REFERENCE
    not_implemented = {unimplemented_name(e.interaction) for e in CATALOGUE.values() if e.endpoint is None}
    assert not_implemented == set(NOT_IMPLEMENTED)
    unrouted = [e.interaction for e in CATALOGUE.values() if e.endpoint == UNROUTED]
    assert len(unrouted) == 4, "the recordings of Play's 'Action not found' page"
    assert all(route_of(i.method, i.path) is None for i in unrouted)


def test_excluded_recordings_are_swagger_examples() -> None:
    """The exclusions name exactly the recordings that are the spec's example, not the API's answer."""
    assert reference_present(), MISSING_REFERENCE
    excluded = [e.interaction for e in CATALOGUE.values() if e.excluded]
    assert len(excluded) == sum(1 for c in load_cassettes() if c.name.startswith(tuple(f for f, _ in EXCLUDED)))
    for interaction in excluded:
        message = interaction.json["inAppMessages"][0]
        assert message["messageId"] == "string", interaction.id
        assert message["trigger"] == {"type": {}}, interaction.id


def test_substitutions_name_known_roles() -> None:
    for table in SUBSTITUTIONS.values():
        for role in table.values():
            assert role.partition(".")[0] in ROLE_MEANINGS, role


@pytest.mark.parametrize("interaction_id", [pytest.param(i, id=i) for i in REPLAYED] or ["reference-material-missing"])
def test_replay(interaction_id: str, api: httpx2.Client, clock: FakeClock, roles: Roles) -> None:
    assert reference_present(), MISSING_REFERENCE
    entry = CATALOGUE[interaction_id]
    interaction, endpoint = entry.interaction, str(entry.endpoint)
    local_roles = roles.with_client(api)
    substitution = Substitution(now_ms=clock.now_ms)
    for literal, role in _substitutions(interaction.cassette).items():
        substitution.values[literal] = local_roles.get(role)
    for method, path, body in _preconditions(interaction.folder):
        api.request(method, path, json=body).raise_for_status()
    cassette = next(c for c in load_cassettes() if c.name == interaction.cassette)
    for earlier in cassette.interactions[: interaction.number - 1]:
        answer = _send(api, earlier, substitution)
        substitution.capture(_json_or_none(earlier.body), _json_or_none(answer.content))
    response = _send(api, interaction, substitution)
    problems = compare(interaction, endpoint, response)
    assert not problems, f"{endpoint} differs from the recording {interaction.id}:\n" + "\n".join(
        f"  - {p}" for p in problems
    )


# ---- the comparison itself can fail ------------------------------------------------------------------------------


def _problems(recorded: Any, actual: Any, endpoint: str = "POST /api/events/track") -> list[str]:
    return compare_shapes(shape_of(recorded), shape_of(actual), rules_for(endpoint)).problems


@pytest.mark.parametrize(
    ("recorded", "actual", "found"),
    [
        ({"a": 1}, {"b": 1}, "missing key 'a'"),
        ({"a": 1}, {"a": 1.5}, "recorded int, sandbox float"),
        ({"a": "1"}, {"a": 1}, "recorded str, sandbox int"),
        ({"a": True}, {"a": 1}, "recorded bool, sandbox int"),
        ({"a": [{"x": 1}, {"y": "z"}]}, {"a": [{"x": 1}]}, "a[]: missing key 'y'"),
        ({"a": [1]}, {"a": []}, "the recorded list has elements"),
        ({"a": None}, {"a": {}}, "recorded null, sandbox object"),
        ({"params": {"k": 1}}, {"params": None}, "recorded object, sandbox null"),
        ({"params": {"obj.x": [{"msg": "e"}]}}, {"params": {"obj.x": [{"msg": [1]}]}}, "the sandbox list holds int"),
        ({"params": {"obj.x": [{"msg": "e"}]}}, {"params": {"obj.y": [{"msg": ["e"]}]}}, "missing key 'obj.x'"),
    ],
)
def test_shape_differences_are_found(recorded: Any, actual: Any, found: str) -> None:
    assert any(found in problem for problem in _problems(recorded, actual)), _problems(recorded, actual)


@pytest.mark.parametrize(
    ("recorded", "actual"),
    [
        ({"a": [{"x": 1}, {"y": "z"}]}, {"a": [{"x": 2, "y": "w"}, {"x": 3}]}),
        ({"a": []}, {"a": [{"anything": 1}]}),
        ({"params": None}, {"params": {"id": "x"}}),
        ({"params": {"obj.x": [{"msg": "e", "args": []}]}}, {"params": {"obj.x": [{"msg": ["e"], "args": []}]}}),
    ],
)
def test_equivalent_shapes_match(recorded: Any, actual: Any) -> None:
    assert _problems(recorded, actual) == []


def test_endpoint_rules_apply() -> None:
    messages = "GET /api/inApp/getMessages"
    side = {"inAppMessages": [{"content": {"inAppDisplaySettings": {"top": {"displayOption": "AutoExpand"}}}}]}
    other = {"inAppMessages": [{"content": {"inAppDisplaySettings": {"top": {"percentage": 5}}}}]}
    odd = {"inAppMessages": [{"content": {"inAppDisplaySettings": {"top": {"percentage": "5"}}}}]}
    assert _problems(side, other, messages) == []
    assert _problems(side, odd, messages)
    fields = "GET /api/users/getFields"
    assert _problems({"fields": {"a": "string"}}, {"fields": {"b": "long"}}, fields) == []
    assert _problems({"fields": {"a": "string"}}, {"fields": {"b": 1}}, fields)
    assert _problems({"fields": {"a": "string"}}, {"fields": {}}, fields)
    events = "GET /api/events/{email}"
    assert _problems({"events": [{"dataFields": {"a": 1}}]}, {"events": [{"dataFields": {"b": "c"}}]}, events) == []
    assert compare_shapes(shape_of({"a": 1}), shape_of({"a": 1, "b": 2}), rules_for(events)).extras == [((), "b")]


def test_values_compared() -> None:
    envelope = {"msg": "x", "code": "BadParams", "params": None}
    assert _value_problems(envelope, {**envelope, "code": "GenericError"})
    bad_body = {"msg": "[/api/lists] body: {}, hdrs: ArrayBuffer(...)", "code": "BadJsonBody", "params": {}}
    assert _value_problems(bad_body, {**bad_body, "msg": "[/api/lists] body: {}, hdrs: List(...)"}) == []
    assert _value_problems(bad_body, {**bad_body, "msg": "[/api/users] body: {}, hdrs: List(...)"})


def test_structure_checks_find_problems() -> None:
    assert member_lines_problems("a@b.co\nc@d.co\n") == []
    assert member_lines_problems("a@b.co\nnot-an-email\n")
    assert member_lines_problems("a@b.co")
    assert csv_problems("id,x\n1,2\n", "id") == []
    assert csv_problems("name,x\n1,2\n", "id")
    assert csv_problems("id,x\n1,2,3\n")
    assert csv_problems("")
    assert jsonl_problems('{"a":1}\n\n{"b":2}\n') == []
    assert jsonl_problems('{"a":1}\n[1]\n')
    assert jsonl_problems('{"a":1}{"b"}\n')
    assert action_not_found_problems("<html><title>Oops</title></html>")
