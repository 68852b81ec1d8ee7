// Whether anything still works on a snapshot, as far as the CLI can tell from where it runs. The
// status says what the last writer was doing; a running snapshot whose writer died says "running"
// for good. Two things tell otherwise: an expired lease, and (on the writer's own host) a pid that
// no longer exists. Nothing else is claimed: another host's processes cannot be seen from here.
// A waiting snapshot is not worked on by design; only a wake time long past says something is wrong.

import { hostname } from "node:os";
import { isClaimedByOther } from "../persistence/claim.js";
import { isGone } from "../persistence/providers/file/owner.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import { cliOwner } from "./delete-as-read.js";
import { formatAge } from "./duration.js";

/**
 * - `stale`: running or compensating, and no process works on it: its lease expired, or its owner
 *   process is known to have exited. A recovery coordinator takes it over.
 * - `overdue`: waiting, its wake time passed more than {@link overdueAfterMs} ago, and no worker
 *   holds it: no coordinator runs on the store, or none keeps up. (Waiting long is not stuck: only
 *   a wake time long past is.)
 * - `claimed`: another owner holds a live lease on it (delete and prune leave it alone).
 * - `null`: none of these, or nothing tells (a snapshot saved without a lease by another host).
 */
export type SnapshotState = "stale" | "overdue" | "claimed" | null;

/**
 * How long past its wake time a waiting record may stay unclaimed before `list` flags it: a
 * coordinator that runs wakes a due record within its poll interval (seconds), so minutes late
 * means no worker is looking. An event wait without a timeout has no wake time and is never flagged.
 */
export const overdueAfterMs = 5 * 60_000;

export interface StateOfSnapshot {
  readonly state: SnapshotState;
  /** Why, and for a stale one what happens to it next; null with a null state. */
  readonly reason: string | null;
}

/** The default owner's parts, `process-<hostname>-<pid>-<uuid>` (see processOwner); undefined for any other owner. */
export function parseProcessOwner(owner: string): { readonly host: string; readonly pid: number } | undefined {
  const match = /^process-(.+)-([1-9][0-9]{0,9})-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.exec(owner);
  if (match === null) return undefined;
  const pid = Number(match[2]);
  return Number.isSafeInteger(pid) ? { host: match[1] as string, pid } : undefined;
}

/** Where the CLI runs: a pid can only be asked about on its own host. */
export interface Here {
  readonly host: string;
  readonly isGone: (pid: number) => boolean;
}

const localHost: Here = { host: hostname(), isGone: (pid) => isGone({ pid }) };

/** The owner process when it ran on this host and has exited (a pid no longer in use, or a zombie). */
function exitedOwner(snapshot: WorkflowExecutionSnapshot, here: Here): { host: string; pid: number } | undefined {
  const owner = snapshot.owner === undefined ? undefined : parseProcessOwner(snapshot.owner);
  return owner !== undefined && owner.host === here.host && here.isGone(owner.pid) ? owner : undefined;
}

/**
 * The owner process of a running or compensating snapshot saved without a lease, when it runs on
 * this host and has not exited: nothing but that process tells that the run goes on (a lease would).
 */
export function liveOwnerHere(snapshot: WorkflowExecutionSnapshot, here: Here = localHost): { host: string; pid: number } | undefined {
  if ((snapshot.status !== "running" && snapshot.status !== "compensating") || snapshot.leaseExpiresAt !== undefined) return undefined;
  const owner = snapshot.owner === undefined ? undefined : parseProcessOwner(snapshot.owner);
  return owner !== undefined && owner.host === here.host && !here.isGone(owner.pid) ? owner : undefined;
}

// The CLI runs no instance, so any live claim is another's but its own, made just before a delete
// (deleteAsRead) by a CLI that then died or failed: that one must not hold up the next delete.
// What counts as one (status, owner, lease) is the library's single definition, the coordinator's.
export const isClaimed = (snapshot: WorkflowExecutionSnapshot, now: number): boolean => isClaimedByOther(snapshot, cliOwner, now);

// Why a process may be working on `snapshot` right now: another's live claim, or, for a run saved
// without a lease (the default), its owner process on this host, still alive. Undefined when
// nothing tells (a lease-less run of another host's process cannot be seen from here).
export function busyReason(snapshot: WorkflowExecutionSnapshot, now: number): string | undefined {
  if (isClaimed(snapshot, now)) return `${snapshot.status} and claimed by "${snapshot.owner ?? ""}" until ${snapshot.leaseExpiresAt ?? ""}`;
  const owner = liveOwnerHere(snapshot);
  return owner === undefined ? undefined : `${snapshot.status} in process ${owner.pid} on this host, ${liveOwnerNote}`;
}

/** How a refusal for a lease-less run's live owner says so: waiting for a lease does nothing then. */
export const liveOwnerNote = "which is alive (its run holds no lease)";

const takeOver = "a worker's recovery coordinator (resumeAll) takes it over";

/** What {@link SnapshotState} the snapshot is in at `now`, and why. */
export function stateOf(snapshot: WorkflowExecutionSnapshot, now: number, here: Here = localHost): StateOfSnapshot {
  const { status, leaseExpiresAt } = snapshot;
  if (status === "running" || status === "compensating") {
    const expiresAt = leaseExpiresAt === undefined ? Number.NaN : Date.parse(leaseExpiresAt);
    if (expiresAt <= now) return { state: "stale", reason: `its lease expired ${formatAge(now - expiresAt)} ago; ${takeOver}` };
    const exited = exitedOwner(snapshot, here);
    if (exited !== undefined) {
      const when = expiresAt > now ? ` once its lease expires at ${leaseExpiresAt ?? ""}` : "";
      return { state: "stale", reason: `its owner, process ${exited.pid} on ${exited.host}, has exited; ${takeOver}${when}` };
    }
  }
  if (isClaimedByOther(snapshot, undefined, now)) return { state: "claimed", reason: `owner "${snapshot.owner ?? ""}" holds a live lease until ${leaseExpiresAt ?? ""}` };
  const late = status === "waiting" && snapshot.wakeAt !== undefined ? now - Date.parse(snapshot.wakeAt) : Number.NaN;
  if (late > overdueAfterMs) {
    return { state: "overdue", reason: `its wake time passed ${formatAge(late)} ago and no worker has resumed it; check that a recovery coordinator (start() or resumeAll) runs on this store` };
  }
  return { state: null, reason: null };
}
