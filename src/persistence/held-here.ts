import type { RunContext, RunOutcome } from "../types.js";
import { SnapshotConflictError, type SnapshotKeys } from "./errors.js";
import { pairKey } from "./keys.js";

// Instances held by this process: by a run, or ahead of one (a coordinator's claim waiting for a
// lane). A lease tells other processes apart by owner; runs inside one process share the owner, so
// they are told apart here. The keys, not the provider object, are what count: two provider objects
// (or two coordinators) on one store must not run one instance twice, and a provider cannot say
// which store it is.

// Each held instance's line: the holds ahead waiting for it, first come first. Each takes over the
// instant the one before lets go.
type Line = ((release: () => void) => void)[];

const heldHere = new Map<string, Line>();

function take(key: string, line: Line = []): () => void {
  heldHere.set(key, line);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    heldHere.delete(key);
    // Handed over without a gap, so that nothing else here starts the instance in between.
    line.shift()?.(take(key, line));
  };
}

/**
 * Marks the instance as held by this process. Returns the release function, or `undefined` when
 * this process holds it already.
 */
function holdInstance(keys: SnapshotKeys): (() => void) | undefined {
  const key = pairKey(keys);
  return heldHere.has(key) ? undefined : take(key);
}

/** True while this process holds the instance. */
export function isHeldHere(keys: SnapshotKeys): boolean {
  return heldHere.has(pairKey(keys));
}

/**
 * Holds the instance for this run until it settles: refused at once with SnapshotConflictError when
 * this process holds it already, whatever provider object or coordinator holds it. `beforeRelease`
 * runs first when the run settles, with the run's outcome (a lease's renewal in flight lands, and a
 * record left unfinished is finished, before another run here may claim). `ahead`: a hold taken
 * for this run before it started, adopted if it is still pending.
 */
export function holdForRun(run: RunContext, keys: SnapshotKeys, beforeRelease: (outcome: RunOutcome) => Promise<void> | undefined, ahead?: HoldAhead): void {
  const release = ahead?.adopt() ?? holdInstance(keys);
  if (release === undefined) throw new SnapshotConflictError({ keys, detail: "another run in this process is running this instance" });
  run.onSettled(async (outcome) => {
    try {
      await beforeRelease(outcome);
    } finally {
      release();
    }
  });
}

/**
 * A hold taken before its run starts: a coordinator's claim waiting for a lane, so that no other
 * coordinator or run of this process starts the instance meanwhile (they share the owner, so the
 * lease does not keep them out). The run adopts it and releases it when it settles; whoever ends up
 * not running the instance drops it.
 */
export interface HoldAhead {
  /**
   * Resolves true once the hold is taken: at once, or, when this process held the instance, the
   * instant it let go. Resolves false when dropped before.
   */
  readonly taken: Promise<boolean>;
  /** True while taken and neither adopted nor dropped. */
  readonly pending: boolean;
  /**
   * True when it waits in line, or waited, to take over from a holder here rather than being taken
   * at once: that holder may have written the instance since the claim this hold is for.
   */
  readonly handedOver: boolean;
  /** The release, handed over once it is taken: undefined before, and once adopted or dropped. */
  adopt(): (() => void) | undefined;
  /** Lets go unless a run adopted it; one still waiting lets go the instant it is handed over. */
  drop(): void;
}

/** Holds the instance ahead of its run, or waits in line for this process to let go of it. */
export function holdAhead(keys: SnapshotKeys): HoldAhead {
  const key = pairKey(keys);
  let state: "waiting" | "pending" | "done" = "waiting";
  let release: (() => void) | undefined;
  let settle!: (taken: boolean) => void;
  const taken = new Promise<boolean>((resolve) => (settle = resolve));
  const takeOver = (handed: () => void): void => {
    if (state === "done") return handed();
    state = "pending";
    release = handed;
    settle(true);
  };
  const line = heldHere.get(key);
  if (line === undefined) takeOver(take(key));
  else line.push(takeOver);
  const handOver = (): (() => void) | undefined => {
    const handed = state === "pending" ? release : undefined;
    if (state === "waiting") settle(false);
    state = "done";
    return handed;
  };
  return {
    taken,
    get pending() {
      return state === "pending";
    },
    handedOver: line !== undefined,
    adopt: () => (state === "pending" ? handOver() : undefined),
    drop: () => handOver()?.(),
  };
}
