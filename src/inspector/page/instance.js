/* global document */
// One instance: its header, actions, steps, error, annotations and properties.
import { actionsPanel } from "./actions.js";
import { getJson, h, header, markNav, replace, replaceKeeping } from "./dom.js";
import { badge, keyText, keysParam, progress, statusCell, waitText, workflowOf } from "./rows.js";
import { moreThan, renderValue } from "./values.js";

export function instanceView(main, params, refresh) {
  markNav("");
  const keys = keysOf(params);
  const actions = actionsPanel(keys, refresh);
  return async (isCurrent) => {
    let data;
    try {
      data = await getJson(`/api/instance?${keysParam(keys)}`);
    } catch (error) {
      if (!isCurrent()) return;
      replace(main, h("p", {}, h("a", { href: "#/" }, "← instances")), h("p", { className: "error-text", id: "not-found" }, String(error.message)));
      return;
    }
    if (!isCurrent()) return;
    header({ store: document.getElementById("store").textContent, allowActions: data.allowActions });
    const panel = actions(data);
    replaceKeeping(main, panel, h("p", {}, h("a", { href: "#/" }, "← instances")), summary(data), panel, timeline(data), cutNotice(data), errorSection(data), properties(data));
  };
}

// The instance a link names: `keys`, the JSON of the pair (as the list links), else `instance` and
// `workflowKey` (a link typed by hand).
function keysOf(params) {
  if (!params.has("keys")) return { instance: params.get("instance") || "", workflowKey: params.get("workflowKey") || "" };
  try {
    const [instance, workflowKey] = JSON.parse(params.get("keys"));
    if (typeof instance === "string" && typeof workflowKey === "string") return { instance, workflowKey };
  } catch {
    // shown as not found, below
  }
  return { instance: "", workflowKey: "" };
}

function summary({ row, fingerprint, consumedEvents, sizes }) {
  const field = (name, value) => [h("dt", {}, name), h("dd", {}, value)];
  const optional = (name, value, id) => (value === null || value === "" ? null : [h("dt", {}, name), h("dd", { id }, value)]);
  return h("section", { id: "summary" }, h("h2", {}, keyText(row.instance), " ", statusCell(row)), h("dl", { className: "fields" },
    field("workflow key", keyText(row.workflowKey)), field("workflow", workflowOf(row)), field("progress", progress(row)),
    optional("waiting for", waitText(row), "waiting-for"), optional("overdue", row.state === "overdue" ? row.stateReason : null, "overdue"),
    optional("consumed events", consumedEvents.length === 0 ? null : [consumedEvents.join(", "), moreThan(sizes.consumedEvents, consumedEvents.length)], "consumed-events"), optional("cancelled at", row.cancelledAt, "cancelled-at"),
    field("owner", row.owner ?? "-"), field("lease", [badge(row.lease, row.lease), row.leaseExpiresAt === null ? "" : ` until ${row.leaseExpiresAt}`, row.stateReason === null ? "" : ` — ${row.stateReason}`]),
    field("attempts", String(row.attempts)), field("revision", String(row.revision)), field("created", row.createdAt), field("updated", row.updatedAt), field("fingerprint", fingerprint)));
}

// The time of day (UTC) of an ISO instant; the full instant is in the element's title.
const clock = (iso) => `${iso.slice(11, 23)} UTC`;

function took(step) {
  if (step.finishedAt === null) return "";
  const ms = Date.parse(step.finishedAt) - Date.parse(step.startedAt);
  if (step.startedAt === null || Number.isNaN(ms)) return `finished ${clock(step.finishedAt)}`;
  return ms < 1000 ? `took ${ms} ms` : `took ${(ms / 1000).toFixed(1)} s`;
}

const stepLabels = { done: "completed", next: "next", waiting: "waiting", cancelled: "cancelled here", pending: "not reached", failed: "failed", "to-restore": "to restore", restored: "restored" };

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
    // A name or message that is no string (one the answer's budget left out, say) is shown as it is.
    [fields.name, fields.message].filter((node) => node !== undefined && text(node) === null).map((node) => h("p", {}, renderValue(node))),
    h("dl", { className: "fields" }, rest.map(([key, node]) => [h("dt", {}, key), h("dd", {}, renderValue(node))])),
    causes(fields.cause, text),
    fields.stack === undefined ? null : [h("h3", {}, "Stack"), text(fields.stack) === null ? renderValue(fields.stack) : h("pre", { className: "stack", id: "error-stack" }, text(fields.stack))]);
}

// A stored cause chain is a list of { name, message }, outermost first; anything else is shown as stored.
function causes(node, text) {
  if (node === undefined) return null;
  const links = node.t === "array" ? node.items.map((item) => (item.t === "object" ? Object.fromEntries(item.entries) : null)) : [];
  if (node.t !== "array" || links.some((link) => link === null || text(link.name) === null || text(link.message) === null)) {
    return [h("h3", {}, "Cause"), renderValue(node)];
  }
  return [h("h3", {}, "Caused by"), h("ol", { className: "causes", id: "error-causes" }, links.map((link) => h("li", { className: "error-text" }, `${text(link.name)}: ${text(link.message)}`)))];
}

// The values did not all fit in one answer (5,000 values): drawn whole, they stalled the page at every refresh.
function cutNotice({ cut }) {
  if (!cut) return null;
  return h("p", { className: "muted", id: "values-cut" }, "Some values of this instance are not shown: one answer holds at most 5,000 values (the error first, then properties, last output and restore outputs). Each value left out is marked where it would be. `workflowforge show --json` prints the whole record.");
}

function properties({ properties: entries, lastOutput, outputs, annotations, sizes }) {
  const list = (pairs, size) => [h("dl", { className: "fields" }, pairs.map(([key, node]) => [h("dt", {}, String(key)), h("dd", {}, renderValue(node))])), moreThan(size, pairs.length)];
  return [
    annotations.length === 0 ? null : h("section", { id: "annotations" }, h("h2", {}, "Annotations"),
      h("dl", { className: "fields" }, annotations.map(([key, text]) => [h("dt", {}, key), h("dd", {}, text)])), moreThan(sizes.annotations, annotations.length)),
    h("section", { id: "properties" }, h("h2", {}, "Properties"), entries.length === 0 ? h("p", { className: "muted" }, "(none)") : list(entries, sizes.properties)),
    lastOutput === null ? null : h("section", { id: "last-output" }, h("h2", {}, "Last output"), renderValue(lastOutput)),
    outputs.length === 0 ? null : h("section", { id: "outputs" }, h("h2", {}, "Restore outputs"), list(outputs.map(([index, node]) => [`#${index}`, node]), sizes.outputs)),
  ];
}
