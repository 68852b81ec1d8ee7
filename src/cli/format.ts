import { inspect } from "node:util";
import type { StoredError } from "../persistence/errors.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import { formatAge } from "./duration.js";
import { stateOf } from "./stale.js";

// Bounded so that one huge property cannot flood a terminal; --json prints everything.
const inspectOptions = { depth: 10, colors: false, breakLength: 100, maxArrayLength: 100, maxStringLength: 10_000 } as const;
const maxErrorWidth = 60;

/** A key as typed on a command line: as is, or JSON-quoted when it is empty or holds spaces, quotes or control characters. */
export function displayKey(key: string): string {
  return key === "" || /[\s"'\\\p{C}]/u.test(key) ? JSON.stringify(key) : key;
}

const ago = (iso: string, now: number): string => `${formatAge(now - Date.parse(iso))} ago`;
const workflowOf = (s: WorkflowExecutionSnapshot): string => (s.workflowVersion === undefined ? s.workflowName : `${s.workflowName}@${s.workflowVersion}`);
const truncate = (text: string, width: number): string => (text.length <= width ? text : `${text.slice(0, width - 1)}…`);
const oneLine = (text: string): string => text.replace(/\s+/g, " ");

/** The snapshots as an aligned table with a header row, for `list` and `prune --dry-run`. */
export function formatTable(snapshots: readonly WorkflowExecutionSnapshot[], now: number): string {
  const header = ["INSTANCE", "WORKFLOW KEY", "WORKFLOW", "STATUS", "STEP", "REV", "ATTEMPTS", "UPDATED", "ERROR"];
  const rows = snapshots.map((s) => [
    displayKey(s.foundryExecutionId),
    displayKey(s.workflowId),
    workflowOf(s),
    stateOf(s, now).state === "stale" ? `${s.status} (stale)` : s.status,
    `${s.nextOperationIndex}/${s.operationCount}`,
    String(s.revision),
    String(s.attempts ?? 0),
    ago(s.updatedAt, now),
    s.error === undefined ? "" : truncate(oneLine(`${s.error.operationName}: ${s.error.message}`), maxErrorWidth),
  ]);
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((cells) => (cells[column] ?? "").length)));
  return [header, ...rows].map((cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd()).join("\n") + "\n";
}

/** One snapshot for reading: the header fields, then error, properties, lastOutput and outputs. */
export function formatSnapshot(snapshot: WorkflowExecutionSnapshot, now: number): string {
  const sections = [
    fields(headerFields(snapshot, now)),
    section("error", snapshot.error === undefined ? [] : errorLines(snapshot.error)),
    section("properties", Object.entries(snapshot.properties).map(([key, value]) => `${propertyKey(key)}: ${show(value)}`)),
    section("lastOutput", "lastOutput" in snapshot ? [show(snapshot.lastOutput)] : []),
    section("outputs", Object.entries(snapshot.outputs ?? {}).map(([index, value]) => `#${index}: ${show(value)}`)),
  ];
  return sections.join("\n\n") + "\n";
}

function headerFields(s: WorkflowExecutionSnapshot, now: number): [string, string | undefined][] {
  const next = s.nextOperationIndex < s.operationCount ? `next: #${s.nextOperationIndex}` : "none left";
  const { state, reason } = stateOf(s, now);
  return [
    ["instance", displayKey(s.foundryExecutionId)],
    ["workflow key", displayKey(s.workflowId)],
    ["workflow", workflowOf(s)],
    ["status", state === "stale" ? `${s.status} (stale: ${reason ?? ""})` : s.status],
    ["progress", `${s.nextOperationIndex} of ${s.operationCount} operations complete (${next})`],
    ["revision", String(s.revision)],
    ["attempts", String(s.attempts ?? 0)],
    ["owner", s.owner],
    ["lease expires", s.leaseExpiresAt === undefined ? undefined : `${s.leaseExpiresAt} (${Date.parse(s.leaseExpiresAt) > now ? "live" : "expired"})`],
    ["created", s.createdAt],
    ["updated", `${s.updatedAt} (${ago(s.updatedAt, now)})`],
    ["fingerprint", s.definitionFingerprint],
  ];
}

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
