import { inspect } from "node:util";
import type { SnapshotKeys, StoredError } from "../persistence/errors.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import { formatAge } from "./duration.js";
import { stateOf } from "./stale.js";

// Bounded so that one huge property cannot flood a terminal; --json prints everything.
const inspectOptions = { depth: 10, colors: false, breakLength: 100, maxArrayLength: 100, maxStringLength: 10_000 } as const;
const maxErrorWidth = 60;

/** A key as typed on a command line: as is, or JSON-quoted when it is empty or holds spaces, quotes or control characters. */
export function displayKey(key: string): string {
  // JSON escapes controls and lone surrogates; visible() the format characters it leaves (U+202E...).
  return key === "" || /[\s"'\\\p{C}]/u.test(key) ? visible(JSON.stringify(key)) : key;
}

/**
 * `text` with every control, format or unassigned character escaped (`\u001b`, `\u202e`), line
 * breaks kept when `lines` says so: what a workflow name, an owner or an error message holds reaches
 * the operator's terminal as text, never as an escape sequence that moves the cursor, clears the
 * screen, sets the window title or reorders what follows.
 */
export function visible(text: string, lines = false): string {
  return text.replace(/\p{C}/gu, (character) => {
    if (lines && character === "\n") return character;
    const code = character.codePointAt(0) ?? 0;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

const ago = (iso: string, now: number): string => `${formatAge(now - Date.parse(iso))} ago`;
const workflowOf = (s: WorkflowExecutionSnapshot): string => (s.workflowVersion === undefined ? s.workflowName : `${s.workflowName}@${s.workflowVersion}`);
const truncate = (text: string, width: number): string => (text.length <= width ? text : `${text.slice(0, width - 1)}…`);
const oneLine = (text: string): string => text.replace(/\s+/g, " ");

/** `instance order-42 / workflow key billing-v1`, keys as {@link displayKey} shows them. */
export const describeKeys = (keys: SnapshotKeys): string => `instance ${displayKey(keys.foundryExecutionId)} / workflow key ${displayKey(keys.workflowId)}`;

// A wake time and how far it is from now: `2026-12-12T10:00:00.000Z (in 6d)`, `(2h ago)`.
const relative = (iso: string, now: number): string => {
  const ms = Date.parse(iso) - now;
  return `${iso} (${ms > 0 ? `in ${formatAge(ms)}` : `${formatAge(-ms)} ago`})`;
};

/** What a waiting snapshot waits for: `event approved, until 2026-12-12T10:00:00.000Z (in 6d)`; "" for any other. */
export function describeWait(s: WorkflowExecutionSnapshot, now: number): string {
  if (s.status !== "waiting") return "";
  const parts = [s.waitingFor === undefined ? undefined : `event ${displayKey(s.waitingFor)}`, s.wakeAt === undefined ? undefined : `until ${relative(s.wakeAt, now)}`];
  return parts.filter((part) => part !== undefined).join(", ");
}

/**
 * The snapshots as an aligned table with a header row, for `list` and `prune --dry-run`. The
 * WAITING FOR column is there only when one of them is waiting.
 */
export function formatTable(snapshots: readonly WorkflowExecutionSnapshot[], now: number): string {
  const waits = snapshots.some((s) => s.status === "waiting");
  const header = ["INSTANCE", "WORKFLOW KEY", "WORKFLOW", "STATUS", "STEP", "REV", "ATTEMPTS", "UPDATED", ...(waits ? ["WAITING FOR"] : []), "ERROR"];
  const rows = snapshots.map((s) => {
    const { state } = stateOf(s, now);
    return [
      displayKey(s.foundryExecutionId),
      displayKey(s.workflowId),
      visible(workflowOf(s)),
      state === "stale" || state === "overdue" ? `${s.status} (${state})` : s.status,
      `${s.nextOperationIndex}/${s.operationCount}`,
      String(s.revision),
      String(s.attempts ?? 0),
      ago(s.updatedAt, now),
      ...(waits ? [describeWait(s, now)] : []),
      s.error === undefined ? "" : truncate(visible(oneLine(`${s.error.operationName}: ${s.error.message}`)), maxErrorWidth),
    ];
  });
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((cells) => (cells[column] ?? "").length)));
  return [header, ...rows].map((cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd()).join("\n") + "\n";
}

/**
 * One snapshot for reading: the header fields, then error, properties, lastOutput and outputs,
 * everything stored in it {@link visible} (its line breaks kept).
 */
export function formatSnapshot(snapshot: WorkflowExecutionSnapshot, now: number): string {
  const sections = [
    fields(headerFields(snapshot, now)),
    section("error", snapshot.error === undefined ? [] : errorLines(snapshot.error)),
    section("properties", Object.entries(snapshot.properties).map(([key, value]) => `${propertyKey(key)}: ${show(value)}`)),
    section("lastOutput", "lastOutput" in snapshot ? [show(snapshot.lastOutput)] : []),
    section("outputs", Object.entries(snapshot.outputs ?? {}).map(([index, value]) => `#${index}: ${show(value)}`)),
  ];
  return visible(sections.join("\n\n") + "\n", true);
}

function headerFields(s: WorkflowExecutionSnapshot, now: number): [string, string | undefined][] {
  const next = s.nextOperationIndex < s.operationCount ? `next: #${s.nextOperationIndex}` : "none left";
  const { state, reason } = stateOf(s, now);
  return [
    ["instance", displayKey(s.foundryExecutionId)],
    ["workflow key", displayKey(s.workflowId)],
    ["workflow", workflowOf(s)],
    ["status", state === "stale" || state === "overdue" ? `${s.status} (${state}: ${reason ?? ""})` : s.status],
    ["progress", `${s.nextOperationIndex} of ${s.operationCount} operations complete (${next})`],
    ["revision", String(s.revision)],
    ["attempts", String(s.attempts ?? 0)],
    ["owner", s.owner],
    ["lease expires", s.leaseExpiresAt === undefined ? undefined : `${s.leaseExpiresAt} (${Date.parse(s.leaseExpiresAt) > now ? "live" : "expired"})`],
    ["waiting for", s.waitingFor === undefined ? undefined : `event ${displayKey(s.waitingFor)}`],
    ["wake at", s.wakeAt === undefined ? undefined : relative(s.wakeAt, now)],
    ["consumed events", s.consumedEvents === undefined || s.consumedEvents.length === 0 ? undefined : listed(s.consumedEvents)],
    ["cancelled at", s.cancelledAt],
    ["created", s.createdAt],
    ["updated", `${s.updatedAt} (${ago(s.updatedAt, now)})`],
    ["fingerprint", s.definitionFingerprint],
  ];
}

// Event ids, oldest first; a long list is cut, --json prints them all.
function listed(ids: readonly string[]): string {
  const shown = ids.slice(0, maxListed).map(displayKey).join(", ");
  return ids.length > maxListed ? `${shown} and ${ids.length - maxListed} more` : shown;
}

const maxListed = 10;

function fields(entries: readonly [string, string | undefined][]): string {
  const present = entries.filter((entry): entry is [string, string] => entry[1] !== undefined);
  const width = Math.max(...present.map(([name]) => name.length)) + 2;
  return present.map(([name, value]) => name.padEnd(width) + value).join("\n");
}

function section(title: string, lines: readonly string[]): string {
  // Continuation lines of a multi-line value keep their place under the first one.
  const body = lines.length === 0 ? ["(none)"] : lines;
  return [title, ...body.map((line) => `  ${line.replace(/\n/g, "\n  ")}`)].join("\n");
}

function errorLines(error: StoredError): string[] {
  const lines = [`${error.name}: ${error.message}`, `at operation #${error.operationIndex} "${error.operationName}"`];
  for (const link of error.cause ?? []) lines.push(`caused by ${link.name}: ${link.message}`);
  if (error.stack !== undefined) lines.push(`stack:\n${error.stack}`);
  return lines;
}

const propertyKey = (key: string): string => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : inspect(key));
const show = (value: unknown): string => inspect(value, inspectOptions);
