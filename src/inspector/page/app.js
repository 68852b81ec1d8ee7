/* global document, window, fetch, location, URLSearchParams, setTimeout, clearTimeout */
// The inspector's page. Every stored string is put into the DOM as text (textContent, text nodes,
// setAttribute on plain attributes), never parsed as HTML: nothing here assigns innerHTML.
"use strict";

const token = document.querySelector('meta[name="workflowforge-token"]').getAttribute("content");
const refreshMs = 2000;
const pageSize = 100;
const state = { status: "", q: "", offset: 0 };
let timer;
let generation = 0;

function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  return element;
}

function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "content-type": "application/json", "x-workflowforge-token": token }, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

function notify(text, bad) {
  const box = document.getElementById("notice");
  const line = h("div", { className: bad ? "bad" : "" }, text);
  box.append(line);
  setTimeout(() => line.remove(), 6000);
}

function age(iso, now) {
  const ms = Date.parse(now) - Date.parse(iso);
  if (Number.isNaN(ms)) return "?";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

const badge = (text, kind) => h("span", { className: `badge s-${kind || text}` }, text);
const instanceHref = (row) => `#/instance?${new URLSearchParams({ instance: row.instance, workflowKey: row.workflowKey })}`;
const workflowOf = (row) => (row.version === null ? row.workflowName : `${row.workflowName}@${row.version}`);

function progress(row) {
  const share = row.operationCount === 0 ? 1 : row.nextOperationIndex / row.operationCount;
  // CSSOM, not a style attribute: the page's CSP allows no inline styles.
  const bar = h("span");
  bar.style.width = `${Math.round(share * 100)}%`;
  return h("span", {}, h("span", { className: "progress" }, bar), `step ${row.nextOperationIndex} of ${row.operationCount}`);
}

function statusCell(row) {
  return [badge(row.status), row.deadLetter ? [" ", badge("dead letter", "dead-letter")] : null];
}

function header(data) {
  replace(document.getElementById("store"), data.store);
  const mode = document.getElementById("mode");
  mode.className = data.allowActions ? "mode actions" : "mode";
  replace(mode, data.allowActions ? "actions allowed" : "read-only");
}

function markNav(id) {
  for (const link of document.querySelectorAll("header nav a")) link.className = link.id === id ? "active" : "";
}

// ---- the list ----

function listView(main) {
  markNav("nav-instances");
  const search = h("input", { type: "search", placeholder: "Search keys, workflow, owner, error", value: state.q, "aria-label": "search" });
  search.addEventListener("input", () => {
    state.q = search.value;
    state.offset = 0;
    void refresh();
  });
  const select = h("select", { "aria-label": "status" }, ["", "running", "failed", "compensating", "completed", "stale", "dead-letter"].map((value) => h("option", { value, selected: value === state.status }, value === "" ? "all statuses" : value)));
  select.addEventListener("change", () => {
    state.status = select.value;
    state.offset = 0;
    void refresh();
  });
  const total = h("span", { className: "muted", id: "total" });
  const body = h("div", { id: "list" });
  replace(main, h("div", { className: "toolbar" }, search, select, total), body);
  return async (isCurrent) => {
    const query = new URLSearchParams({ offset: String(state.offset), limit: String(pageSize) });
    if (state.status !== "") query.set("status", state.status);
    if (state.q.trim() !== "") query.set("q", state.q.trim());
    const data = await getJson(`/api/instances?${query}`);
    if (!isCurrent()) return;
    header(data);
    replace(total, `${data.total} instance${data.total === 1 ? "" : "s"}`);
    replace(body, listTable(data), pager(data), unreadable(data.unreadable));
  };
}

function listTable(data) {
  if (data.items.length === 0) return h("p", { className: "muted" }, "No instances match.");
  const columns = ["Instance", "Workflow key", "Workflow", "Status", "Progress", "Owner", "Lease", "Updated", "Attempts", "Error"];
  const rows = data.items.map((row) =>
    h("tr", { "data-instance": row.instance, "data-status": row.status },
      h("td", { className: "key" }, h("a", { href: instanceHref(row) }, row.instance)),
      h("td", {}, row.workflowKey),
      h("td", {}, workflowOf(row)),
      h("td", {}, statusCell(row)),
      h("td", { className: "nowrap" }, progress(row)),
      h("td", {}, row.owner === null ? h("span", { className: "muted" }, "-") : row.owner),
      h("td", { title: row.stateReason ?? undefined }, badge(row.lease, row.lease)),
      h("td", { title: row.updatedAt }, age(row.updatedAt, data.now)),
      h("td", {}, String(row.attempts)),
      h("td", { className: "error-text" }, row.error === null ? "" : `${row.error.operationName}: ${row.error.message}`),
    ),
  );
  return h("table", { id: "instances" }, h("thead", {}, h("tr", {}, columns.map((name) => h("th", {}, name)))), h("tbody", {}, rows));
}

function pager(data) {
  if (data.total <= pageSize) return null;
  const move = (offset) => () => {
    state.offset = offset;
    void refresh();
  };
  const last = data.offset + data.items.length;
  return h("div", { className: "pager" },
    h("button", { onclick: move(Math.max(0, data.offset - pageSize)), disabled: data.offset === 0 }, "← newer"),
    h("span", { className: "muted" }, `${data.offset + 1}–${last} of ${data.total}`),
    h("button", { onclick: move(data.offset + pageSize), disabled: last >= data.total }, "older →"));
}

function unreadable(messages) {
  if (!messages || messages.length === 0) return null;
  return h("section", {}, h("h2", {}, `${messages.length} record(s) could not be read`), messages.map((text) => h("pre", { className: "stack" }, text)));
}

// ---- one instance ----

function instanceView(main, params) {
  markNav("");
  const keys = { instance: params.get("instance") || "", workflowKey: params.get("workflowKey") || "" };
  return async (isCurrent) => {
    let data;
    try {
      data = await getJson(`/api/instance?${new URLSearchParams(keys)}`);
    } catch (error) {
      if (!isCurrent()) return;
      replace(main, h("p", {}, h("a", { href: "#/" }, "← instances")), h("p", { className: "error-text", id: "not-found" }, String(error.message)));
      return;
    }
    if (!isCurrent()) return;
    header({ store: document.getElementById("store").textContent, allowActions: data.allowActions });
    replace(main, h("p", {}, h("a", { href: "#/" }, "← instances")), summary(data), actions(data, keys), timeline(data), errorSection(data), properties(data));
  };
}

function summary({ row, fingerprint }) {
  const field = (name, value) => [h("dt", {}, name), h("dd", {}, value)];
  return h("section", { id: "summary" }, h("h2", {}, row.instance, " ", statusCell(row)), h("dl", { className: "fields" },
    field("workflow key", row.workflowKey), field("workflow", workflowOf(row)), field("progress", progress(row)),
    field("owner", row.owner ?? "-"), field("lease", [badge(row.lease, row.lease), row.leaseExpiresAt === null ? "" : ` until ${row.leaseExpiresAt}`, row.stateReason === null ? "" : ` — ${row.stateReason}`]),
    field("attempts", String(row.attempts)), field("revision", String(row.revision)), field("created", row.createdAt), field("updated", row.updatedAt), field("fingerprint", fingerprint)));
}

function actions(data, keys) {
  if (!data.allowActions) return null;
  const run = (path, confirmText, done) => async (event) => {
    if (!window.confirm(confirmText)) return;
    event.target.disabled = true;
    try {
      await post(path, keys);
      notify(done);
      if (path === "/api/delete") location.hash = "#/";
      else await refresh();
    } catch (error) {
      notify(error.message, true);
      event.target.disabled = false;
    }
  };
  return h("section", { id: "actions" }, h("h2", {}, "Actions"),
    data.row.deadLetter ? h("button", { id: "retry", onclick: run("/api/retry", "Retry this dead letter? A recovery coordinator resumes it.", "Retried: its attempts are back at 0.") }, "Retry dead letter") : null, " ",
    h("button", { id: "delete", className: "danger", onclick: run("/api/delete", "Delete this snapshot? The instance would start over.", "Deleted.") }, "Delete"));
}

// The time of day (UTC) of an ISO instant; the full instant is in the element's title.
const clock = (iso) => `${iso.slice(11, 23)} UTC`;

function took(step) {
  if (step.finishedAt === null) return "";
  const ms = Date.parse(step.finishedAt) - Date.parse(step.startedAt);
  if (step.startedAt === null || Number.isNaN(ms)) return `finished ${clock(step.finishedAt)}`;
  return ms < 1000 ? `took ${ms} ms` : `took ${(ms / 1000).toFixed(1)} s`;
}

const stepLabels = { done: "completed", next: "next", pending: "not reached", failed: "failed", "to-restore": "to restore", restored: "restored" };

function timeline({ timeline: steps, row }) {
  const items = steps.map((step) => h("li", { className: `t-${step.state}`, "data-step": step.index, "data-state": step.state },
    h("span", { className: "dot" }), h("span", { className: "muted" }, `#${step.index}`),
    h("span", {}, step.name === null ? "" : h("strong", {}, step.name), step.name === null ? "" : " ", stepLabels[step.state] || step.state),
    h("span", { className: "muted", title: step.startedAt === null ? "" : `first started ${step.startedAt}` }, step.startedAt === null ? "" : `started ${clock(step.startedAt)}`),
    h("span", { className: "muted", title: step.finishedAt === null ? "" : `last finished ${step.finishedAt}` }, took(step)),
    h("span", { className: step.executions > 1 ? "twice" : "muted" }, step.executions === null || step.executions === 0 ? "" : `ran ${step.executions}×`)));
  const empty = steps.length === 0 ? h("p", { className: "muted" }, "The definition has no operations.") : null;
  const untimed = steps.length > 0 && steps.every((step) => step.executions === null) ? h("p", { className: "muted" }, "This record stores no per-operation timeline (written before it existed, or a definition of over 1,000 operations); the steps come from its progress and error.") : null;
  return h("section", { id: "timeline" }, h("h2", {}, `Steps (${row.nextOperationIndex} of ${row.operationCount})`), untimed, empty, h("ol", { className: "timeline" }, items));
}

function errorSection({ error }) {
  if (error === null) return null;
  const fields = Object.fromEntries(error);
  const text = (node) => (node && node.t === "string" ? node.v : null);
  const rest = error.filter(([key]) => !["name", "message", "stack", "cause"].includes(key));
  return h("section", { id: "error" }, h("h2", {}, "Error"),
    h("p", { className: "error-text" }, `${text(fields.name) ?? "Error"}: ${text(fields.message) ?? ""}`),
    h("dl", { className: "fields" }, rest.map(([key, node]) => [h("dt", {}, key), h("dd", {}, renderValue(node))])),
    text(fields.stack) === null ? null : h("pre", { className: "stack" }, text(fields.stack)),
    fields.cause === undefined ? null : [h("h3", {}, "cause"), renderValue(fields.cause)]);
}

function properties({ properties: entries, lastOutput, outputs, annotations }) {
  const list = (pairs) => h("dl", { className: "fields" }, pairs.map(([key, node]) => [h("dt", {}, String(key)), h("dd", {}, renderValue(node))]));
  return [
    !annotations || annotations.length === 0 ? null : h("section", { id: "annotations" }, h("h2", {}, "Annotations"),
      h("dl", { className: "fields" }, annotations.map(([key, text]) => [h("dt", {}, key), h("dd", {}, text)]))),
    h("section", { id: "properties" }, h("h2", {}, "Properties"), entries.length === 0 ? h("p", { className: "muted" }, "(none)") : list(entries)),
    lastOutput === null ? null : h("section", { id: "last-output" }, h("h2", {}, "Last output"), renderValue(lastOutput)),
    outputs.length === 0 ? null : h("section", { id: "outputs" }, h("h2", {}, "Restore outputs"), list(outputs.map(([index, node]) => [`#${index}`, node]))),
  ];
}

const more = (node, shown) => (node.size > shown ? h("span", { className: "v-type" }, ` … ${node.size - shown} more`) : null);

function renderValue(node) {
  const span = (kind, text) => h("span", { className: `value v-${kind}` }, text);
  const nest = (children) => h("div", { className: "v-nest" }, children);
  switch (node.t) {
    case "string": return span("string", [JSON.stringify(node.v), node.truncated ? ` … (${node.truncated} characters)` : ""]);
    case "number": return span("number", node.v);
    case "bigint": return span("bigint", `${node.v}n`);
    case "boolean": return span("number", String(node.v));
    case "null": case "undefined": return span("null", node.t);
    case "date": return h("span", { className: "value" }, span("type", "Date "), span("date", node.v));
    case "regexp": case "other": return span("other", node.v);
    case "circular": return span("type", "[Circular]");
    case "deep": return span("type", "[…]");
    case "bytes": return h("span", { className: "value" }, span("type", `${node.name}(${node.size}) `), `[${node.items.join(", ")}]`, more(node, node.items.length));
    case "array": case "set":
      return h("div", { className: "value" }, span("type", `${node.t === "set" ? "Set" : "Array"}(${node.size})`), nest(node.items.map((item) => h("div", {}, renderValue(item)))), more(node, node.items.length));
    case "map":
      return h("div", { className: "value" }, span("type", `Map(${node.size})`), nest(node.entries.map(([key, value]) => h("div", {}, renderValue(key), span("type", " => "), renderValue(value)))), more(node, node.entries.length));
    case "object":
      return h("div", { className: "value" }, span("type", node.name === "Object" ? "{" : `${node.name} {`), nest(node.entries.map(([key, value]) => h("div", {}, span("key", `${key}: `), renderValue(value)))), more(node, node.entries.length), span("type", "}"));
    case "error":
      return h("div", { className: "value" }, span("type", `${node.name}: `), span("string", node.message),
        node.stack === undefined ? null : h("pre", { className: "stack" }, node.stack),
        node.fields.length === 0 ? null : nest(node.fields.map(([key, value]) => h("div", {}, span("key", `${key}: `), renderValue(value)))),
        node.cause === undefined ? null : nest([span("type", "cause: "), renderValue(node.cause)]));
    default: return span("other", "?");
  }
}

// ---- dead letters ----

function deadLettersView(main) {
  markNav("nav-dead-letters");
  return async (isCurrent) => {
    const data = await getJson("/api/dead-letters");
    if (!isCurrent()) return;
    header(data);
    const groups = data.groups.map((group) => h("section", { className: "group" },
      h("h3", {}, `${group.workflowName} — ${group.instances.length} dead letter${group.instances.length === 1 ? "" : "s"}`),
      h("p", { className: "error-text" }, `${group.operationName}: ${group.errorName}: ${group.message}`),
      listTable({ items: group.instances, now: data.now })));
    replace(main, h("p", { className: "muted" }, `Failed records whose attempts reached ${data.maxAttempts}: no coordinator resumes them until they are retried.`),
      groups.length === 0 ? h("p", { className: "muted", id: "no-dead-letters" }, "No dead letters.") : h("div", { id: "dead-letters" }, groups));
  };
}

// ---- routing and live refresh ----

let render = async () => {};

async function refresh() {
  clearTimeout(timer);
  const mine = ++generation;
  try {
    // A slower answer for an earlier view or query must not overwrite a newer one.
    await render(() => mine === generation);
    if (mine === generation) document.body.setAttribute("data-rendered", String(mine));
  } catch (error) {
    notify(`Refresh failed: ${error.message}`, true);
  }
  if (mine === generation && document.getElementById("live").checked) timer = setTimeout(() => void refresh(), refreshMs);
}

function route() {
  const main = document.getElementById("main");
  // Nothing of the previous view stays clickable while the next one loads.
  replace(main, h("p", { className: "muted" }, "Loading…"));
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  if (path === "/instance") render = instanceView(main, new URLSearchParams(query || ""));
  else if (path === "/dead-letters") render = deadLettersView(main);
  else render = listView(main);
  document.body.setAttribute("data-view", path === "/instance" ? "instance" : path === "/dead-letters" ? "dead-letters" : "list");
  void refresh();
}

window.addEventListener("hashchange", route);
document.getElementById("live").addEventListener("change", () => void refresh());
route();
