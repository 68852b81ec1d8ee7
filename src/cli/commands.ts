import { isWorkflowForgeError } from "../errors.js";
import type { SnapshotCorruptedError, SnapshotKeys } from "../persistence/errors.js";
import { pairKey } from "../persistence/keys.js";
import type { SnapshotFilter } from "../persistence/provider.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import type { Selection } from "./args.js";
import { deleteAsRead } from "./delete-as-read.js";
import { CliError, describeCause } from "./errors.js";
import { describeKeys, describeWait, displayKey, formatSnapshot, formatTable } from "./format.js";
import { toJson } from "./json.js";
import { quotedKeyHint, quotedKeysNote } from "./key-args.js";
import { isPermissionDenied } from "../persistence/providers/file/fs.js";
import { busyReason, isClaimed, liveOwnerHere, overdueAfterMs, stateOf } from "./stale.js";
import { formatAge } from "./duration.js";
import type { OpenStore } from "./stores.js";
import { sortedByUpdatedAt, summarize } from "./summary.js";

/** Where a command writes its result. */
export interface Output {
  write(text: string): unknown;
}

export interface CommandContext {
  readonly store: OpenStore;
  readonly stdout: Output;
  /** Where records that could not be read are reported, beside the result. */
  readonly stderr: Output;
  /** One instant for the whole command, so that ages and leases agree with each other. */
  readonly now: number;
  readonly json: boolean;
}

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? "" : "s"}`;

/** `list`: the matching snapshots, oldest first; exits 1 after them if some records could not be read. */
export async function listCommand(context: CommandContext, selection: Selection): Promise<number> {
  const { stdout, store, now } = context;
  const { snapshots, unreadable } = await select(context, selection);
  if (context.json) stdout.write(`${toJson(snapshots.map((snapshot) => summarize(snapshot, now)))}\n`);
  else if (snapshots.length === 0) stdout.write(`No snapshots${describeSelection(selection)} in ${store.label}.\n`);
  else stdout.write(`${formatTable(snapshots, now)}\n${plural(snapshots.length, "snapshot")}${describeSelection(selection)} in ${store.label}.\n${stateNotes(snapshots, now)}${quotedKeysNote(snapshots)}`);
  await reportForeignEntries(context);
  return reportUnreadable(context, unreadable);
}

// After the table: what "stale" and "overdue" mean and what to do about such a snapshot.
function stateNotes(snapshots: readonly WorkflowExecutionSnapshot[], now: number): string {
  const count = (state: "stale" | "overdue"): number => snapshots.filter((snapshot) => stateOf(snapshot, now).state === state).length;
  const [stale, overdue] = [count("stale"), count("overdue")];
  let notes = "";
  if (stale > 0) {
    const [is, it] = stale === 1 ? ["is", "it"] : ["are", "them"];
    notes += `${plural(stale, "snapshot")} ${is} stale: no process works on ${it} any more (a lease expired, or an owner process on this host exited), whatever the status says; a worker's recovery coordinator (resumeAll) takes ${it} over. "workflowforge show" says why.\n`;
  }
  if (overdue > 0) {
    const [is, it] = overdue === 1 ? ["is", "its"] : ["are", "their"];
    notes += `${plural(overdue, "snapshot")} ${is} overdue: waiting, ${it} wake time passed over ${formatAge(overdueAfterMs)} ago, and no worker has resumed ${overdue === 1 ? "it" : "them"}; check that a recovery coordinator (start() or resumeAll) runs on this store.\n`;
  }
  return notes;
}

// Beside the result, on stderr: files the provider never lists (not its records), so that a record
// copied in under another name, or a store pointed at the wrong directory, does not go unnoticed.
async function reportForeignEntries({ store, stderr }: CommandContext): Promise<void> {
  const names = (await store.foreignEntries?.()) ?? [];
  if (names.length === 0) return;
  const shown = names.slice(0, maxNamed).map((name) => displayKey(name)).join(", ");
  const more = names.length > maxNamed ? ` and ${names.length - maxNamed} more` : "";
  const are = names.length === 1 ? "is not a record" : "are not records";
  const entries = names.length === 1 ? "1 entry" : `${names.length} entries`;
  stderr.write(`workflowforge: ${entries} in ${store.label} ${are} and ${names.length === 1 ? "was" : "were"} not listed: ${shown}${more}\n`);
}

const maxNamed = 3;

/** `show`: one snapshot, decoded. */
export async function showCommand(context: CommandContext, keys: SnapshotKeys): Promise<number> {
  const snapshot = await load(context, keys);
  context.stdout.write(context.json ? `${toJson(snapshot)}\n` : formatSnapshot(snapshot, context.now));
  return 0;
}

/**
 * `delete`: one snapshot, unless a process may still be working on it (then only with --force):
 * a live claim says one is, and a record that cannot be read cannot say that none is. With --force
 * and nothing stored, what the store keeps for the keys all the same (events delivered to them,
 * which a later instance of the same keys would receive) is removed. Only the revision read here,
 * or `revision` when given (the one the user saw), is deleted: one saved since is refused.
 */
export async function deleteCommand(context: CommandContext, keys: SnapshotKeys, force: boolean, revision?: number): Promise<number> {
  const snapshot = await loadUnlessUnreadable(context, keys, force);
  if (snapshot === "absent") return deleteAbsent(context, keys);
  const busy = force || snapshot === undefined ? undefined : busyReason(snapshot, context.now);
  if (busy !== undefined) throw new CliError("REFUSED", `${describeKeys(keys)} is ${busy}${claimedHint}`);
  // Deleted since it was read: as if nothing had been stored when the command began.
  if ((await deleteSeen(context, keys, snapshot, revision)) === "gone") {
    if (force) return deleteAbsent(context, keys);
    throw new CliError("NOT_FOUND", `no snapshot for ${describeKeys(keys)} in ${context.store.label}: it was deleted since it was read`);
  }
  const { foundryExecutionId: instance, workflowId: workflowKey } = keys;
  context.stdout.write(context.json ? `${toJson({ deleted: 1, instance, workflowKey })}\n` : `Deleted the snapshot of ${describeKeys(keys)} from ${context.store.label}.\n`);
  return 0;
}

// delete --force with nothing stored: what the store keeps for the keys all the same.
async function deleteAbsent(context: CommandContext, keys: SnapshotKeys): Promise<number> {
  await context.store.provider.delete(keys.foundryExecutionId, keys.workflowId);
  const { foundryExecutionId: instance, workflowId: workflowKey } = keys;
  const text = `No snapshot of ${describeKeys(keys)} in ${context.store.label}; removed what was kept for those keys (events delivered to them), if anything${quotedKeyHint(keys)}.\n`;
  context.stdout.write(context.json ? `${toJson({ deleted: 0, instance, workflowKey })}\n` : text);
  return 0;
}

// The record as read (or as the user saw it), not one saved since; undefined: an unreadable
// record under --force, which is removed unread. "gone": deleted since it was read.
async function deleteSeen({ store }: CommandContext, keys: SnapshotKeys, read: WorkflowExecutionSnapshot | undefined, seen = read?.revision): Promise<"deleted" | "gone"> {
  if (read === undefined) return store.provider.delete(keys.foundryExecutionId, keys.workflowId).then(() => "deleted");
  const outcome = read.revision === seen ? await deleteAsRead(store.provider, read) : "changed";
  if (outcome !== "changed") return outcome;
  const now = read.revision === seen ? "" : `, now ${read.revision}`;
  throw new CliError("REFUSED", `${describeKeys(keys)} was saved again since it was read (revision ${seen}${now}); nothing was deleted: look at it again, then delete it`);
}

/** How delete's refusal of a claimed record ends: the inspector, which has no --force, says otherwise. */
export const claimedHint = "; pass --force to delete it anyway";

type Outcome = "deleted" | "would-delete" | "skipped-live-lease" | "skipped-live-owner" | "skipped-waiting" | "skipped-changed" | "gone";

/**
 * `prune`: deletes every matching snapshot that no process holds a live claim on, and no waiting
 * one unless `--status waiting` asks for them (an instance waiting for weeks is not abandoned). A
 * record that cannot be read is left alone (whether a process runs it cannot be told) and makes it exit 1.
 */
export async function pruneCommand(context: CommandContext, selection: Selection, dryRun: boolean): Promise<number> {
  const { snapshots: matched, unreadable } = await select(context, selection);
  const outcomes: { snapshot: WorkflowExecutionSnapshot; outcome: Outcome }[] = [];
  for (const snapshot of matched) {
    try {
      const waiting = snapshot.status === "waiting" && selection.statuses?.includes("waiting") !== true;
      outcomes.push({ snapshot, outcome: waiting ? "skipped-waiting" : await pruneOne(context, snapshot, dryRun) });
    } catch (error) {
      const deleted = outcomes.filter((entry) => entry.outcome === "deleted").length;
      // A timeout's message names the store already.
      const label = `${context.store.label}: `;
      const reason = error instanceof CliError && error.message.startsWith(label) ? error.message.slice(label.length) : describeCause(error);
      const code = error instanceof CliError ? error.code : "STORE";
      throw new CliError(code, `prune stopped after deleting ${deleted} of ${matched.length} matching snapshots from ${context.store.label}: ${reason}`, { cause: error });
    }
  }
  const count = (outcome: Outcome): number => outcomes.filter((entry) => entry.outcome === outcome).length;
  const report = { dryRun, matched: matched.length, deleted: count("deleted"), wouldDelete: count("would-delete"), skipped: outcomes.filter((entry) => entry.outcome.startsWith("skipped-")).length };
  if (context.json) {
    const items = outcomes.map(({ snapshot, outcome }) => ({ instance: snapshot.foundryExecutionId, workflowKey: snapshot.workflowId, status: snapshot.status, updatedAt: snapshot.updatedAt, outcome }));
    context.stdout.write(`${toJson({ ...report, items })}\n`);
  } else {
    context.stdout.write(pruneText(context, selection, outcomes, report));
  }
  return reportUnreadable(context, unreadable);
}

// Re-reads the snapshot first: a process may have resumed the instance since it was listed, and
// its new checkpoint must not be deleted; nor one it saves after this read (deleteAsRead).
async function pruneOne(context: CommandContext, listed: WorkflowExecutionSnapshot, dryRun: boolean): Promise<Outcome> {
  if (isClaimed(listed, context.now)) return "skipped-live-lease";
  if (liveOwnerHere(listed) !== undefined) return "skipped-live-owner";
  if (dryRun) return "would-delete";
  const current = await context.store.provider.tryLoad(listed.foundryExecutionId, listed.workflowId);
  if (current === undefined) return "gone";
  if (current.revision !== listed.revision) return "skipped-changed";
  const outcome = await deleteAsRead(context.store.provider, current);
  return outcome === "changed" ? "skipped-changed" : outcome;
}

function pruneText(context: CommandContext, selection: Selection, outcomes: readonly { snapshot: WorkflowExecutionSnapshot; outcome: Outcome }[], report: { deleted: number; wouldDelete: number; dryRun: boolean }): string {
  const where = `${describeSelection(selection)} from ${context.store.label}`;
  const lines: string[] = [];
  if (report.dryRun) {
    const doomed = outcomes.filter((entry) => entry.outcome === "would-delete").map((entry) => entry.snapshot);
    if (doomed.length > 0) lines.push(formatTable(doomed, context.now));
    lines.push(`Would delete ${plural(report.wouldDelete, "snapshot")}${where}. Nothing was deleted (--dry-run).`);
  } else {
    lines.push(`Deleted ${plural(report.deleted, "snapshot")}${where}.`);
  }
  for (const { snapshot, outcome } of outcomes) {
    if (outcome === "skipped-live-lease" || outcome === "skipped-live-owner") lines.push(`Skipped ${describeKeys(snapshot)}: ${busyReason(snapshot, context.now) ?? snapshot.status}.`);
    if (outcome === "skipped-changed") lines.push(`Skipped ${describeKeys(snapshot)}: it was saved again since it was listed.`);
    if (outcome === "skipped-waiting") lines.push(`Skipped ${describeKeys(snapshot)}: waiting (${describeWait(snapshot, context.now)}); pass --status waiting to prune waiting instances.`);
  }
  return `${lines.join("\n")}\n`;
}

// Undefined for an unreadable record under --force, which delete then removes unread, and "absent"
// for nothing stored; without --force the first is refused and the second not found. Any other
// failure (the store down) stands.
async function loadUnlessUnreadable(context: CommandContext, keys: SnapshotKeys, force: boolean): Promise<WorkflowExecutionSnapshot | undefined | "absent"> {
  try {
    return await load(context, keys);
  } catch (error) {
    if (force && error instanceof CliError && error.code === "NOT_FOUND") return "absent";
    if (!(isWorkflowForgeError(error) && error.code === "SNAPSHOT_CORRUPTED")) throw error;
    if (force) return undefined;
    if (isPermissionDenied(error.cause)) throw new CliError("REFUSED", `${describeKeys(keys)} cannot be read by this user, so nothing was deleted: ${error.message}`, { cause: error });
    const reason = `${describeKeys(keys)} is stored but cannot be read, so whether a process is running it cannot be told`;
    throw new CliError("REFUSED", `${reason}; pass --force to delete it anyway (${error.message})`, { cause: error });
  }
}

async function load(context: CommandContext, keys: SnapshotKeys): Promise<WorkflowExecutionSnapshot> {
  const snapshot = await context.store.provider.tryLoad(keys.foundryExecutionId, keys.workflowId);
  if (snapshot === undefined) throw new CliError("NOT_FOUND", `no snapshot for ${describeKeys(keys)} in ${context.store.label}${quotedKeyHint(keys)}`);
  return snapshot;
}

interface Selected {
  readonly snapshots: WorkflowExecutionSnapshot[];
  /** Matching records that could not be read, each once. */
  readonly unreadable: SnapshotCorruptedError[];
}

// The providers' filters are ANDed; "--workflow" matches the name or the key, hence two queries
// (each filtered by the store) merged, rather than one that decodes every snapshot. The inspector
// (src/inspector) lists through it too.
export async function select({ store, now }: CommandContext, selection: Selection): Promise<Selected> {
  const filter: SnapshotFilter = {
    ...(selection.statuses === undefined ? {} : { status: selection.statuses }),
    ...(selection.olderThan === undefined ? {} : { updatedBefore: new Date(now - selection.olderThan.ms) }),
  };
  const unreadable = new Map<string, SnapshotCorruptedError>();
  const list = (narrowed: SnapshotFilter) => store.provider.list(narrowed, undefined, { onUnreadable: (error) => unreadable.set(error.message, error) });
  const { workflow } = selection;
  const lists = workflow === undefined ? [list(filter)] : [list({ ...filter, workflowId: workflow }), list({ ...filter, workflowName: workflow })];
  const unique = new Map((await Promise.all(lists)).flat().map((snapshot) => [pairKey(snapshot), snapshot]));
  return { snapshots: sortedByUpdatedAt([...unique.values()]), unreadable: [...unreadable.values()] };
}

// After the result: each record that could not be read, and how to remove one. Exit code 1 if any.
function reportUnreadable({ stderr }: CommandContext, unreadable: readonly SnapshotCorruptedError[]): number {
  if (unreadable.length === 0) return 0;
  const lines = [`workflowforge: ${plural(unreadable.length, "record")} could not be read and ${unreadable.length === 1 ? "was" : "were"} left out:`];
  for (const error of unreadable) lines.push(`  ${error.message}`);
  if (unreadable.every((error) => isPermissionDenied(error.cause))) lines.push("workflowforge: this user may not read them: run the command as the store's owner.");
  else lines.push("workflowforge: `workflowforge delete --force <instanceId> <workflowKey>` (with the same store options) removes one whose keys are named; add --json-keys to give each as quoted above.");
  stderr.write(`${lines.join("\n")}\n`);
  return 1;
}

/** ` (status failed or running, workflow Billing, not updated for 7d)`, or "" when nothing narrows. */
export function describeSelection(selection: Selection): string {
  const parts: string[] = [];
  if (selection.statuses !== undefined) parts.push(`status ${selection.statuses.join(" or ")}`);
  if (selection.workflow !== undefined) parts.push(`workflow ${displayKey(selection.workflow)}`);
  if (selection.olderThan !== undefined) parts.push(`not updated for ${selection.olderThan.text}`);
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}
