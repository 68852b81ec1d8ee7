/* global document, window, location, URLSearchParams, setTimeout, clearTimeout */
// The inspector's page: the list, the dead letters, routing by the URL's hash, and the refresh
// every 2 seconds that keeps the view live without reloading.
import { getJson, h, header, markNav, notify, replace } from "./dom.js";
import { instanceView } from "./instance.js";
import { listTable } from "./rows.js";

const refreshMs = 2000;
const pageSize = 100;
// `pages`: the cursors of the pages before this one (the API's `next` of each), newest first; the
// current page starts after the last. A cursor, not an offset: a record saved meanwhile moves to
// the top of the list, and would shift an offset's page by a row.
const state = { status: "", q: "", workflow: "", pages: [] };
let timer;
let generation = 0;

// ---- the list ----

function listView(main) {
  markNav("nav-instances");
  const search = h("input", { type: "search", placeholder: "Search keys, workflow, owner, error", value: state.q, "aria-label": "search" });
  search.addEventListener("input", () => {
    state.q = search.value;
    state.pages = [];
    void refresh();
  });
  const select = h("select", { "aria-label": "status" }, ["", "running", "failed", "compensating", "completed", "waiting", "cancelled", "stale", "overdue", "dead-letter"].map((value) => h("option", { value, selected: value === state.status }, value === "" ? "all statuses" : value)));
  select.addEventListener("change", () => {
    state.status = select.value;
    state.pages = [];
    void refresh();
  });
  const total = h("span", { className: "muted", id: "total" });
  const body = h("div", { id: "list" }, h("p", { className: "muted", id: "loading" }, "Loading…"));
  // Set by the dead letters view: one workflow's, by its exact name, until cleared.
  const workflow = state.workflow === "" ? null : h("button", { id: "workflow-filter", title: "show every workflow", onclick: () => {
    state.workflow = "";
    state.pages = [];
    route();
  } }, `workflow ${state.workflow} ✕`);
  replace(main, h("div", { className: "toolbar" }, search, select, workflow, total), body);
  return async (isCurrent) => {
    const query = new URLSearchParams({ limit: String(pageSize) });
    if (state.pages.length > 0) query.set("after", state.pages.at(-1));
    if (state.status !== "") query.set("status", state.status);
    if (state.q.trim() !== "") query.set("q", state.q.trim());
    if (state.workflow !== "") query.set("workflow", state.workflow);
    const data = await getJson(`/api/instances?${query}`);
    if (!isCurrent()) return;
    header(data);
    replace(total, `${data.total} instance${data.total === 1 ? "" : "s"}`);
    replace(body, listTable(data), pager(data), unreadable(data.unreadable));
  };
}

// Past the first page it stays, even once the list fits one page: it is the way back.
function pager(data) {
  if (data.next === null && state.pages.length === 0) return null;
  const move = (pages) => () => {
    state.pages = pages;
    void refresh();
  };
  const range = data.items.length === 0 ? "none" : `${data.offset + 1}–${data.offset + data.items.length}`;
  return h("div", { className: "pager" },
    h("button", { id: "newer", onclick: move(state.pages.slice(0, -1)), disabled: state.pages.length === 0 }, "← newer"),
    h("span", { className: "muted", id: "range" }, `${range} of ${data.total}`),
    h("button", { id: "older", onclick: move([...state.pages, data.next]), disabled: data.next === null }, "older →"));
}

function unreadable(messages) {
  if (!messages || messages.length === 0) return null;
  return h("section", {}, h("h2", {}, `${messages.length} record(s) could not be read`), messages.map((text) => h("pre", { className: "stack" }, text)));
}

// ---- dead letters ----

function deadLettersView(main) {
  markNav("nav-dead-letters");
  return async (isCurrent) => {
    const data = await getJson(`/api/dead-letters?limit=${pageSize}`);
    if (!isCurrent()) return;
    header(data);
    // At most a page of rows in all: the rest of a group are one click away, in the paged list.
    const groups = data.groups.map((group) => h("section", { className: "group" },
      h("h3", {}, `${group.workflowName} — ${group.count} dead letter${group.count === 1 ? "" : "s"}`),
      h("p", { className: "error-text" }, `${group.operationName}: ${group.errorName}: ${group.message}`),
      group.instances.length === 0 ? null : listTable({ items: group.instances, now: data.now }),
      group.instances.length === group.count ? null : h("button", { className: "all-dead-letters", onclick: () => listDeadLettersOf(group.workflowName) }, "see them all in the list")));
    const more = data.groups.length < data.groupCount ? `; the ${data.groups.length} largest of ${data.groupCount} groups are shown` : "";
    replace(main, h("p", { className: "muted" }, `Failed records whose attempts reached ${data.maxAttempts}: no coordinator resumes them until they are retried.`),
      groups.length === 0 ? h("p", { className: "muted", id: "no-dead-letters" }, "No dead letters.")
        : h("div", { id: "dead-letters" }, h("p", { className: "muted", id: "dead-letter-count" }, `${data.total} dead letter${data.total === 1 ? "" : "s"}${more}.`), groups));
  };
}

// The list, showing the dead letters of one workflow (those of its other groups too).
function listDeadLettersOf(workflowName) {
  Object.assign(state, { status: "dead-letter", q: "", workflow: workflowName, pages: [] });
  location.hash = "#/";
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
    // A view that never drew (the server stopped, say) says so in place of "Loading…"; one that drew
    // keeps what it showed, and each failed refresh says it is not current.
    const loading = document.getElementById("loading");
    if (mine === generation && loading !== null) replace(loading, `Could not load this view: ${error.message}. It is asked for again every 2 s while live is on.`);
    notify(`Refresh failed: ${error.message}`, true);
  }
  if (mine === generation && document.getElementById("live").checked) timer = setTimeout(() => void refresh(), refreshMs);
}

function route() {
  const main = document.getElementById("main");
  // Nothing of the previous view stays clickable while the next one loads.
  replace(main, h("p", { className: "muted", id: "loading" }, "Loading…"));
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  if (path === "/instance") render = instanceView(main, new URLSearchParams(query || ""), refresh);
  else if (path === "/dead-letters") render = deadLettersView(main);
  else render = listView(main);
  document.body.setAttribute("data-view", path === "/instance" ? "instance" : path === "/dead-letters" ? "dead-letters" : "list");
  void refresh();
}

window.addEventListener("hashchange", route);
document.getElementById("live").addEventListener("change", () => void refresh());
route();
