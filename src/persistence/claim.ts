import type { RunContext } from "../types.js";
import { SnapshotConflictError, type SnapshotKeys } from "./errors.js";
import { pairKey } from "./keys.js";
import type { WorkflowExecutionSnapshot } from "./snapshot.js";

/**
 * True when another owner holds a live lease on the instance: it is running, compensating, or has
 * just recorded a failure it may still compensate or retry. A `completed` record claims nothing,
 * and an expired (or released) lease may be taken over. The single definition of "claimed": the
 * recovery coordinator, a leased run and the CLI all ask this.
 */
export function isClaimedByOther(snapshot: WorkflowExecutionSnapshot, owner: string | undefined, now = Date.now()): boolean {
  const { status, leaseExpiresAt } = snapshot;
  if (status === "completed") return false;
  if (snapshot.owner === undefined || snapshot.owner === owner || leaseExpiresAt === undefined) return false;
  return Date.parse(leaseExpiresAt) > now;
}

/** Who holds the claim and until when, for the messages that report one. */
export function describeClaim(snapshot: WorkflowExecutionSnapshot): string {
  return `owner "${snapshot.owner ?? ""}" holds a live lease until ${snapshot.leaseExpiresAt ?? ""}`;
}

// Instances a run of this process is running, by their keys alone, each with a promise settled
// when that run lets go. A lease tells other processes apart by owner; runs inside one process
// share the owner, so they are told apart here. The keys, not the provider object, are what
// counts: two provider objects (or two coordinators) on one store must not run one instance
// twice, and a provider cannot say which store it is.
const runningHere = new Map<string, Promise<void>>();

/**
 * Holds the instance for this run of this process until it settles: refused at once with
 * SnapshotConflictError when another run of this process holds it, whatever provider object or
 * coordinator it uses. `beforeRelease` runs first when the run settles (a lease's renewal in flight
 * lands before another run here may claim). `taken`: a hold taken ahead for this run, adopted
 * instead of taking one.
 */
export function holdForRun(run: RunContext, keys: SnapshotKeys, beforeRelease: () => Promise<void> | undefined, taken?: HoldAhead): void {
  const release = taken?.adopt() ?? holdInstance(keys);
  if (release === undefined) throw new SnapshotConflictError({ keys, detail: "another run in this process is running this instance" });
  run.onSettled(async () => {
    try {
      await beforeRelease();
    } finally {
      release();
    }
  });
}

/** True while a run of this process is running the instance. */
export function isHeldHere(keys: SnapshotKeys): boolean {
  return runningHere.has(pairKey(keys));
}

/** Settles when no run of this process holds the instance (at once when none does). */
export function releasedHere(keys: SnapshotKeys): Promise<void> {
  return runningHere.get(pairKey(keys)) ?? Promise.resolve();
}

/**
 * Marks the instance as run by this process. Returns the release function, or `undefined` when
 * another run of this process holds it already.
 */
export function holdInstance(keys: SnapshotKeys): (() => void) | undefined {
  const key = pairKey(keys);
  if (runningHere.has(key)) return undefined;
  let released!: () => void;
  runningHere.set(key, new Promise<void>((resolve) => (released = resolve)));
  return () => {
    runningHere.delete(key);
    released();
  };
}

/**
 * The hold on an instance taken before its run starts: a coordinator's claim waiting for a lane, so
 * that no other coordinator or run of this process starts the instance meanwhile (they share the
 * owner, so its lease does not keep them out). The run adopts it, and releases it when it settles;
 * whoever ends up not running the instance drops it.
 */
export interface HoldAhead {
  /** The release, handed over once: undefined when adopted or dropped already. */
  adopt(): (() => void) | undefined;
  /** Releases the hold unless a run adopted it. */
  drop(): void;
}

/** Holds the instance ahead of its run; `undefined` when a run of this process holds it. */
export function holdAhead(keys: SnapshotKeys): HoldAhead | undefined {
  let release = holdInstance(keys);
  if (release === undefined) return undefined;
  const handOver = (): (() => void) | undefined => {
    const handed = release;
    release = undefined;
    return handed;
  };
  return { adopt: handOver, drop: () => handOver()?.() };
}
