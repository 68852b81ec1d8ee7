/* global URLSearchParams */
// One instance as a row, and the pieces of it the instance page shows too.
import { h } from "./dom.js";
import { shownKey } from "./keys.js";

export function age(iso, now) {
  const ms = Date.parse(now) - Date.parse(iso);
  if (Number.isNaN(ms)) return "?";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export const badge = (text, kind) => h("span", { className: `badge s-${kind || text}` }, text);
// Keys travel as the JSON of the pair: JSON escapes a lone surrogate, which a URL's UTF-8 would turn
// into U+FFFD, naming (and, with its Delete, removing) another instance.
export const keysParam = (keys) => new URLSearchParams({ keys: JSON.stringify([keys.instance, keys.workflowKey]) });
export const instanceHref = (row) => `#/instance?${keysParam(row)}`;
// Its spaces kept (app.css): HTML would draw `"order  1"` as `"order 1"`.
export const keyText = (key) => h("span", { className: "shown-key" }, shownKey(key));
export const workflowOf = (row) => (row.version === null ? row.workflowName : `${row.workflowName}@${row.version}`);

export function progress(row) {
  const share = row.operationCount === 0 ? 1 : row.nextOperationIndex / row.operationCount;
  // CSSOM, not a style attribute: the page's CSP allows no inline styles.
  const bar = h("span");
  bar.style.width = `${Math.round(share * 100)}%`;
  return h("span", {}, h("span", { className: "progress" }, bar), `step ${row.nextOperationIndex} of ${row.operationCount}`);
}

export function statusCell(row) {
  return [badge(row.status), row.deadLetter ? [" ", badge("dead letter", "dead-letter")] : null, row.state === "overdue" ? [" ", badge("overdue")] : null];
}

// What a waiting instance waits for: `event "approved", until 2026-12-12T10:00:00.000Z`.
export function waitText(row) {
  if (row.status !== "waiting") return "";
  const parts = [row.waitingFor === null ? null : `event "${row.waitingFor}"`, row.wakeAt === null ? null : `until ${row.wakeAt}`];
  return parts.filter((part) => part !== null).join(", ");
}

export function listTable(data) {
  if (data.items.length === 0) return h("p", { className: "muted" }, "No instances match.");
  const columns = ["Instance", "Workflow key", "Workflow", "Status", "Progress", "Owner", "Lease", "Updated", "Attempts", "Error"];
  const rows = data.items.map((row) =>
    h("tr", { "data-instance": row.instance, "data-status": row.status },
      h("td", { className: "key" }, h("a", { href: instanceHref(row) }, keyText(row.instance))),
      h("td", {}, keyText(row.workflowKey)),
      h("td", {}, workflowOf(row)),
      h("td", { title: row.state === "overdue" ? row.stateReason : undefined }, statusCell(row), row.status === "waiting" ? h("div", { className: "muted wait" }, waitText(row)) : null),
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
