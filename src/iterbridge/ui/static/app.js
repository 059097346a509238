// The iterbridge console's page: plain JavaScript, no framework, nothing loaded from elsewhere.
// Every request goes to this console's own JSON API; changes carry the CSRF token the page was served with.
"use strict";

const CSRF = document.querySelector('meta[name="csrf"]').content;
const $ = (id) => document.getElementById(id);
const PAGE_ROWS = 50;

async function call(method, path, body, headers) {
  const options = { method, headers: Object.assign({ "X-Iterbridge-Csrf": CSRF }, headers || {}) };
  if (body !== undefined) {
    if (typeof body === "string" || body instanceof Blob || body instanceof ArrayBuffer) {
      options.body = body;
    } else {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
  }
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.view = data;
    throw error;
  }
  return data;
}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function cell(value) {
  if (value === null || value === undefined) return el("span", { class: "null" }, "NULL");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function table(columns, rows, id) {
  const head = el("tr", {}, ...columns.map((c) => el("th", {}, c)));
  const body = rows.map((row) => el("tr", {}, ...row.map((v) => el("td", {}, cell(v)))));
  return el("table", { class: "grid", id: id || "" }, el("thead", {}, head), el("tbody", {}, ...body));
}

function show(target, ...nodes) {
  const node = typeof target === "string" ? $(target) : target;
  node.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
}

function fail(target, error) {
  show(target, error.message);
}

// ---- pages -------------------------------------------------------------------------------------------

const loaded = {};

function open(page) {
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== "page-" + page;
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.page === page);
  location.hash = page;
  if (!loaded[page] && loaders[page]) {
    loaded[page] = true;
    loaders[page]();
  }
}

const loaders = {
  connection: loadConnection,
  objects: loadObjects,
  replicate: () => { loadHistory(); },
  import: loadImportObjects,
};

// ---- connection --------------------------------------------------------------------------------------

async function loadConnection() {
  const info = await call("GET", "/api/connection");
  const rows = [
    ["profile", info.profile || "—"],
    ["region", info.region],
    ["API", info.base_url],
    ["sandbox", info.sandbox ? "yes (a simulated project, discarded when the console stops)" : "no"],
    ["rate limits", info.rate_limits === null ? "off" : "×" + info.rate_limits],
    ["extended requests", info.suppress_extended_requests ? "suppressed" : "made when selected"],
  ];
  show("connection-info", ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
  show("project", info.sandbox ? "sandbox" : (info.profile || info.base_url));
  show("profile-select", ...info.profiles.map((p) => el("option", { value: p }, p)));
  $("switch-button").disabled = info.profiles.length === 0;
}

async function checkKey() {
  show("check-result", "checking…");
  try {
    const found = await call("GET", "/api/connection/check");
    show("check-result", el("span", { class: "ok" }, found.message));
  } catch (error) {
    fail("check-result", error);
  }
}

async function switchProfile() {
  try {
    await call("POST", "/api/connection/profile", { profile: $("profile-select").value });
    for (const key of Object.keys(loaded)) delete loaded[key];
    open("connection");
  } catch (error) {
    fail("check-result", error);
  }
}

// ---- objects -----------------------------------------------------------------------------------------

let catalog = null;

async function loadCatalog() {
  if (catalog === null) catalog = await call("GET", "/api/objects");
  return catalog;
}

async function loadObjects() {
  const found = await loadCatalog();
  show("object-list", ...found.objects.map((o) =>
    el("li", {}, el("a", { href: "#objects", "data-object": o.name, onclick: () => describe(o.name) }, o.name))));
}

async function describe(name) {
  show("object-detail", "loading…");
  try {
    const obj = await call("GET", "/api/objects/" + encodeURIComponent(name));
    const columns = ["column", "type", "key", "writable", "costs extra requests", "pushed to the API", "notes"];
    const rows = obj.columns.map((c) => [
      c.name, c.type, c.key ? "✓" : "", c.import_only ? "import only" : (c.read_only ? "no" : "yes"),
      c.extended_request ? "+1 GET per record" : "", obj.pushed_filters.includes(c.name) ? "✓" : "", c.description || "",
    ]);
    const facts = [
      ["operations", obj.operations.join(", ")],
      ["keys", obj.keys.join(", ") || "—"],
      ["required filter", obj.required_filters.join(" or ") || "—"],
      ["incremental cursor", obj.cursor || "—"],
    ];
    const preview = el("div", { id: "preview" });
    const button = el("button", { id: "preview-button", onclick: () => previewRows(obj.name, preview) }, "Preview the first rows");
    const cost = el("span", { id: "preview-cost", class: "note" });
    show("object-detail",
      el("h3", {}, obj.name), el("p", {}, obj.description),
      el("table", { class: "facts" }, ...facts.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
      table(columns, rows, "columns"),
      el("p", {}, button, " ", cost),
      preview);
    previewCost(obj.name, cost);
  } catch (error) {
    fail("object-detail", error);
  }
}

// What the preview costs, from its EXPLAIN: shown beside the button before anything is read.
async function previewCost(name, target) {
  try {
    const found = await call("GET", "/api/objects/" + encodeURIComponent(name) + "/preview?limit=20");
    const costs = found.plan.rows.map((r) => `${r[1]}: ${r[4]} API call(s), ${r[5]}`);
    show(target, "costs " + costs.join("; "));
  } catch (error) {
    show(target, el("span", { class: "error" }, error.message));
  }
}

async function previewRows(name, target) {
  show(target, "reading…");
  try {
    const found = await call("GET", "/api/objects/" + encodeURIComponent(name) + "/preview?limit=20&run=1");
    show(target, table(found.columns, found.rows, "preview-grid"));
  } catch (error) {
    show(target, el("span", { class: "error" }, error.message));
  }
}

// ---- query -------------------------------------------------------------------------------------------

const KEYWORDS = new Set(("SELECT FROM WHERE AND OR NOT IN IS NULL LIKE GROUP BY ORDER LIMIT OFFSET AS JOIN LEFT " +
  "INNER ON INSERT INTO VALUES UPDATE SET DELETE CALL EXPLAIN WITH DISTINCT COUNT SUM MIN MAX AVG CASE WHEN THEN " +
  "ELSE END HAVING DESC ASC BETWEEN RETURNING UNION ALL").split(" "));

function highlight() {
  const text = $("sql").value;
  const parts = text.split(/('(?:[^']|'')*'?|--[^\n]*|\b\w+\b)/);
  const nodes = parts.map((part) => {
    if (/^'/.test(part)) return el("span", { class: "str" }, part);
    if (/^--/.test(part)) return el("span", { class: "comment" }, part);
    if (KEYWORDS.has(part.toUpperCase())) return el("span", { class: "kw" }, part);
    if (/^\d+$/.test(part)) return el("span", { class: "num" }, part);
    return document.createTextNode(part);
  });
  show("sql-highlight", ...nodes, "\n");
  $("sql-highlight").scrollTop = $("sql").scrollTop;
}

let result = null;
let page = 0;

function showError(error) {
  const view = error.view || {};
  show("query-error", error.message);
  if (view.line) {  // put the cursor where SQLite stopped
    const lines = $("sql").value.split("\n");
    let offset = 0;
    for (let i = 0; i < view.line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += view.column - 1;
    $("sql").focus();
    $("sql").setSelectionRange(offset, offset + 1);
  }
}

function request() {
  return { sql: $("sql").value, limit: Number($("limit").value) || 1000 };
}

async function explain() {
  show("query-error");
  try {
    const plan = await call("POST", "/api/explain", request());
    show("explain", el("h3", {}, "EXPLAIN"), table(plan.columns, plan.rows, "explain-grid"));
    return true;
  } catch (error) {
    showError(error);
    show("explain");
    return false;
  }
}

async function run() {
  show("query-error");
  show("dry-run");
  show("grid");
  if (!(await explain())) return;  // the plan and its cost are shown before anything is read
  try {
    const found = await call("POST", "/api/query", request());
    if (found.confirm) return confirmWrite(found);
    result = found;
    page = 0;
    renderPage();
  } catch (error) {
    showError(error);
  }
}

function confirmWrite(planned) {
  const list = planned.requests.map((r) => el("li", {}, r.method + " " + r.url, r.json ? el("pre", {}, JSON.stringify(r.json, null, 2)) : null));
  const go = el("button", { id: "confirm-write", onclick: () => execute() }, "Send these requests");
  const cancel = el("button", { onclick: () => show("dry-run") }, "Cancel");
  show("dry-run", el("h3", {}, "Dry run: " + planned.requests.length + " request(s) would be sent, none was"),
    el("ol", { id: "dry-run-requests" }, ...list), go, " ", cancel);
}

async function execute() {
  try {
    const done = await call("POST", "/api/execute", Object.assign(request(), { confirmed: true }));
    const lines = done.reports.map((r) => el("li", {}, `${r.operation}: ${r.succeeded} row(s) in ${r.object} (${r.api_calls} API calls)`));
    show("dry-run", el("ul", { id: "write-report" }, ...lines), done.message ? el("p", {}, done.message) : null);
    if (done.columns.length) { result = done; page = 0; renderPage(); }
  } catch (error) {
    showError(error);
  }
}

function renderPage() {
  const pages = Math.max(1, Math.ceil(result.rows.length / PAGE_ROWS));
  page = Math.min(Math.max(page, 0), pages - 1);
  const rows = result.rows.slice(page * PAGE_ROWS, (page + 1) * PAGE_ROWS);
  show("grid", table(result.columns, rows, "result-grid"));
  $("pager").hidden = false;
  const more = result.more ? " (more rows: raise the limit or download)" : "";
  const calls = result.api_calls === undefined ? "" : `, ${result.api_calls} API call(s)`;
  show("page-info", `page ${page + 1} of ${pages}, ${result.rows.length} row(s)${calls}${more}`);
}

async function download(format) {
  show("query-error");
  try {
    const response = await fetch("/api/download", {
      method: "POST",
      headers: { "X-Iterbridge-Csrf": CSRF, "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign(request(), { format })),
    });
    if (!response.ok) throw Object.assign(new Error((await response.json()).error), {});
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: "query." + format });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    showError(error);
  }
}

// ---- replicate and sync ------------------------------------------------------------------------------

let polling = null;

async function startJob(path, body) {
  show("job-error");
  try {
    const job = await call("POST", path, body);
    watchJob(job.id);
  } catch (error) {
    fail("job-error", error);
  }
}

function replicate() {
  const objects = $("rep-objects").value.split(",").map((s) => s.trim()).filter(Boolean);
  startJob("/api/replicate", { to: $("target").value, objects: objects.length ? objects : null, full: $("full").checked });
}

function sync() {
  startJob("/api/sync", {
    object: $("sync-object").value, to: $("target").value, catalog: $("sync-catalog").value,
    conflict: $("sync-conflict").value, dry_run: $("sync-dry").checked,
  });
}

function watchJob(id) {
  clearInterval(polling);
  const tick = async () => {
    const job = await call("GET", "/api/jobs/" + id);
    renderJob(job);
    if (job.state !== "running") {
      clearInterval(polling);
      loadHistory();
      loadFreshness();
    }
  };
  polling = setInterval(tick, 1000);
  tick();
}

function renderJob(job) {
  const parts = [el("h3", { id: "job-state", "data-state": job.state }, `${job.kind} into ${job.target}: ${job.state}`)];
  if (job.running.length) parts.push(el("ul", { id: "job-running" }, ...job.running.map((r) => el("li", {}, r.line))));
  if (job.finished.length) {
    parts.push(table(["table", "rows", "rows/s", "seconds", "error"],
      job.finished.map((f) => [f.table, f.rows_read, Math.round(f.rate), f.seconds.toFixed(1), f.error || ""]), "job-finished"));
  }
  if (job.error) parts.push(el("p", { class: "error" }, job.error));
  if (job.report && job.kind === "replicate") {
    const t = job.report.totals;
    parts.push(el("p", { id: "job-totals" },
      `total: ${t.rows_read} rows read, ${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted, ` +
      `${t.api_calls} API calls in ${job.report.seconds.toFixed(1)} s`));
    for (const line of job.report.skipped) parts.push(el("p", { class: "warn" }, "skipped " + line));
    chart(job.report.streams.filter((s) => s.rows_read > 0));
  }
  if (job.report && job.kind === "sync") {
    const r = job.report;
    parts.push(el("p", { id: "job-totals" },
      `to Iterable: ${r.to_iterable.creates} created, ${r.to_iterable.updates} updated, ${r.to_iterable.deletes} deleted; ` +
      `to the database: ${r.to_database.creates} created, ${r.to_database.updates} updated, ${r.to_database.deletes} deleted; ` +
      `${r.conflicts} conflicts, ${r.left_to_retry} left to retry${r.dry_run ? " (dry run)" : ""}`));
    if (r.failures.length) parts.push(table(["key", "side", "operation", "reason"], r.failures.map((f) => [f.key, f.side, f.operation, f.reason])));
  }
  show("job", ...parts);
}

// Rows and seconds per table of a replication, as horizontal bars (SVG drawn here, no library).
function chart(streams) {
  if (!streams.length) return show("chart");
  const ns = "http://www.w3.org/2000/svg";
  const width = 720, row = 22, label = 200, bars = (width - label - 20) / 2;
  const most = Math.max(...streams.map((s) => s.rows_read), 1);
  const longest = Math.max(...streams.map((s) => s.seconds), 0.001);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("id", "replication-chart");
  svg.setAttribute("width", width);
  svg.setAttribute("height", row * (streams.length + 1));
  const text = (x, y, content, anchor) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("text-anchor", anchor || "start");
    t.textContent = content;
    svg.append(t);
  };
  const bar = (x, y, w, kind) => {
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", x); r.setAttribute("y", y); r.setAttribute("width", Math.max(w, 1)); r.setAttribute("height", row - 6);
    r.setAttribute("class", kind);
    svg.append(r);
  };
  text(label, 14, "rows read");
  text(label + bars + 10, 14, "seconds");
  streams.forEach((s, i) => {
    const y = row * (i + 1);
    text(label - 6, y + 12, s.table, "end");
    bar(label, y, (s.rows_read / most) * (bars - 60), "rows");
    text(label + (s.rows_read / most) * (bars - 60) + 4, y + 12, s.rows_read.toLocaleString());
    bar(label + bars + 10, y, (s.seconds / longest) * (bars - 60), "time");
    text(label + bars + 14 + (s.seconds / longest) * (bars - 60), y + 12, s.seconds.toFixed(2));
  });
  show("chart", el("h3", {}, "Rows and time per table"), svg);
}

// ---- events per day ------------------------------------------------------------------------------------

const PALETTE = ["#5ab0ff", "#f2a541", "#6cc48a", "#d96c7a", "#9b7fe0", "#48c1c4", "#c4a148", "#8d99ae", "#e07fc4", "#3d7dd8"];

function eventsRequest(run) {
  return { source: $("events-source").value, to: $("target").value, start: $("events-start").value,
    end: $("events-end").value, run };
}

async function showEvents() {
  show("events-error");
  show("events-plan");
  show("events-chart");
  try {
    const found = await call("POST", "/api/chart/events", eventsRequest(false));
    if (found.source === "api") {  // the cost first; reading is a second click
      const read = el("button", { id: "events-read", onclick: readEvents }, "Read from the API");
      show("events-plan", el("p", {}, "This reads the API as EXPLAIN says:"), table(found.plan.columns, found.plan.rows, "events-explain"), read);
      return;
    }
    eventsChart(found.counts);
  } catch (error) {
    fail("events-error", error);
  }
}

async function readEvents() {
  try {
    const found = await call("POST", "/api/chart/events", eventsRequest(true));
    eventsChart(found.counts);
  } catch (error) {
    fail("events-error", error);
  }
}

// Stacked bars: one per day, a colour per event type (the most frequent types first in the legend).
function eventsChart(counts) {
  if (!counts.length) return show("events-chart", el("p", { id: "events-none" }, "no events in this range"));
  const days = [...new Set(counts.map((c) => c[0]))].sort();
  const totals = {};
  for (const [, type, n] of counts) totals[type] = (totals[type] || 0) + n;
  const types = Object.keys(totals).sort((a, b) => totals[b] - totals[a]);
  const colour = (type) => PALETTE[types.indexOf(type) % PALETTE.length];
  const perDay = {};
  for (const [day, type, n] of counts) (perDay[day] = perDay[day] || []).push([type, n]);
  const most = Math.max(...days.map((d) => perDay[d].reduce((s, [, n]) => s + n, 0)));
  const ns = "http://www.w3.org/2000/svg";
  const height = 220, bar = Math.max(6, Math.min(36, 700 / days.length)), width = 60 + days.length * (bar + 4);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("id", "events-svg");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height + 40);
  const add = (tag, attributes, content) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    if (content !== undefined) node.textContent = content;
    svg.append(node);
    return node;
  };
  add("text", { x: 0, y: 12 }, String(most));
  days.forEach((day, i) => {
    let y = height;
    const x = 50 + i * (bar + 4);
    for (const [type, n] of perDay[day].sort((a, b) => types.indexOf(a[0]) - types.indexOf(b[0]))) {
      const h = (n / most) * (height - 20);
      y -= h;
      const rect = add("rect", { x, y, width: bar, height: Math.max(h, 1), fill: colour(type), class: "event-bar" });
      rect.append(Object.assign(document.createElementNS(ns, "title"), { textContent: `${day} ${type}: ${n}` }));
    }
    if (days.length <= 31 || i % Math.ceil(days.length / 31) === 0) {
      add("text", { x, y: height + 14, transform: `rotate(45 ${x} ${height + 14})` }, day.slice(5));
    }
  });
  const legend = el("p", { class: "legend" }, ...types.map((type) => el("span", {},
    el("span", { class: "swatch" }, "■"), ` ${type} (${totals[type]})  `)));
  legend.querySelectorAll(".swatch").forEach((swatch, i) => { swatch.style.color = colour(types[i]); });
  show("events-chart", svg, legend, table(["day", "type", "events"], counts, "events-grid"));
}

async function loadHistory() {
  const found = await call("GET", "/api/jobs");
  const rows = found.jobs.map((j) => [j.id, j.kind, j.target, new Date(j.started * 1000).toLocaleString(),
    j.ended ? ((j.ended - j.started).toFixed(1) + " s") : "…", j.state]);
  show("history", rows.length ? table(["#", "job", "target", "started", "took", "state"], rows, "history-grid") : "none yet");
}

async function loadFreshness() {
  try {
    const found = await call("GET", "/api/freshness?to=" + encodeURIComponent($("target").value));
    const parts = [table(["table", "mode", "rows", "cursor", "last run"],
      found.tables.map((t) => [t.table, t.mode, t.rows, t.cursor, t.last_run]), "freshness-grid")];
    if (found.conflicts.length) {
      parts.push(el("h4", {}, "Sync conflicts"), table(["stream", "key", "resolution", "resolved at"],
        found.conflicts.map((c) => [c.stream, c.key, c.resolution, c.resolved_at])));
    }
    if (found.retries.length) {
      parts.push(el("h4", {}, "Sync retries"), table(["stream", "key", "side", "operation", "reason", "attempts"],
        found.retries.map((r) => [r.stream, r.key, r.side, r.operation, r.reason, r.attempts])));
    }
    show("freshness", ...parts);
  } catch (error) {
    fail("freshness", error);
  }
}

// ---- import ------------------------------------------------------------------------------------------

let header = [];

async function loadImportObjects() {
  const found = await loadCatalog();
  const writable = found.objects.filter((o) => o.operations.length > 1);
  show("import-object", ...writable.map((o) => el("option", { value: o.name }, o.name)));
}

function squash(name) {
  return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

async function readHeader() {
  const file = $("import-file").files[0];
  if (!file) return;
  const first = (await file.slice(0, 65536).text()).split(/\r?\n/)[0].replace(/^\uFEFF/, "");
  header = first.split(",").map((h) => h.trim().replace(/^"|"$/g, ""));
  await suggest();
}

async function suggest() {
  if (!header.length) return;
  const obj = await call("GET", "/api/objects/" + encodeURIComponent($("import-object").value));
  const fields = obj.columns.filter((c) => !c.read_only || c.key).map((c) => c.name);
  const rows = header.map((name) => {
    const match = fields.find((f) => squash(f) === squash(name));
    const select = el("select", { "data-column": name }, el("option", { value: "" }, "(by name / ignore)"),
      ...fields.map((f) => el("option", Object.assign({ value: f }, f === match ? { selected: "" } : {}), f)));
    return el("tr", {}, el("td", {}, name), el("td", {}, "→"), el("td", {}, select));
  });
  show("mapping", el("table", { class: "facts", id: "mapping-table" }, ...rows));
}

async function importCsv(dryRun) {
  show("import-error");
  const file = $("import-file").files[0];
  if (!file) return show("import-error", "choose a CSV file first");
  const map = {};
  for (const select of document.querySelectorAll("#mapping select")) {
    if (select.value && select.value !== select.dataset.column) map[select.dataset.column] = select.value;
  }
  const query = new URLSearchParams({
    object: $("import-object").value, operation: $("import-operation").value, map: JSON.stringify(map),
    dry_run: dryRun ? "1" : "0",
  });
  show("import-result", "importing…");
  try {
    const found = await call("POST", "/api/import?" + query, await file.arrayBuffer(), { "Content-Type": "text/csv" });
    const parts = [el("p", { id: "import-summary" }, found.describe)];
    if (found.dry_run && found.requests.length) {
      parts.push(el("ol", {}, ...found.requests.map((r) => el("li", {}, r.method + " " + r.url))));
    }
    if (found.rejected) {
      const [head, ...rows] = found.rejects;
      parts.push(el("h3", {}, `${found.rejected} rejected row(s)`), table(head, rows, "rejects-grid"),
        el("p", {}, el("a", { href: `/api/import/${found.id}/rejects`, download: "rejects.csv", id: "rejects-link" }, "Download the rejects")));
    }
    show("import-result", ...parts);
  } catch (error) {
    show("import-result");
    fail("import-error", error);
  }
}

// ---- wiring ------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => open(tab.dataset.page));
  $("check-button").addEventListener("click", checkKey);
  $("switch-button").addEventListener("click", switchProfile);
  $("sql").addEventListener("input", highlight);
  $("sql").addEventListener("scroll", highlight);
  $("explain-button").addEventListener("click", explain);
  $("run-button").addEventListener("click", run);
  $("csv-button").addEventListener("click", () => download("csv"));
  $("json-button").addEventListener("click", () => download("json"));
  $("prev-page").addEventListener("click", () => { if (result) { page--; renderPage(); } });
  $("next-page").addEventListener("click", () => { if (result) { page++; renderPage(); } });
  $("replicate-button").addEventListener("click", replicate);
  $("sync-button").addEventListener("click", sync);
  $("freshness-button").addEventListener("click", loadFreshness);
  $("events-button").addEventListener("click", showEvents);
  const today = new Date();
  $("events-end").value = today.toISOString().slice(0, 10);
  $("events-start").value = new Date(today - 29 * 86400000).toISOString().slice(0, 10);
  $("import-file").addEventListener("change", readHeader);
  $("import-object").addEventListener("change", suggest);
  $("import-dry").addEventListener("click", () => importCsv(true));
  $("import-send").addEventListener("click", () => importCsv(false));
  highlight();
  $("pager").hidden = true;
  open(location.hash.slice(1) || "connection");
});
