import { systemClock, type Clock } from "../clock.js";
import { outputOf, restoreDataOf } from "../outcome.js";
import type { OperationContext, RunAnnotations, WorkflowInfo } from "../types.js";
import type { SnapshotKeys, StoredError } from "./errors.js";
import type { SnapshotEvent } from "./events.js";
import type { ResolvedPersistenceOptions } from "./options.js";
import { definitionFingerprint, type SnapshotStatus, type WorkflowExecutionSnapshot } from "./snapshot.js";
import { Timeline } from "./timeline.js";

/** What a run knows of its stored snapshot between checkpoints. */
export interface SnapshotState {
  readonly keys: SnapshotKeys;
  readonly workflow: WorkflowInfo;
  readonly fingerprint: string;
  readonly options: Pick<ResolvedPersistenceOptions, "owner" | "leaseTtlMs">;
  /** The revision stored now (0: nothing). */
  revision: number;
  next: number;
  /** The status of the last checkpoint (or what the run adopted). */
  status: SnapshotStatus;
  /** The properties a run that never checkpointed started with: what its failure record stores. */
  startProperties?: Record<string, unknown> | undefined;
  outputs: Record<number, unknown>;
  lastOutput?: unknown;
  error?: StoredError | undefined;
  attempts?: number | undefined;
  createdAt?: string | undefined;
  /** Per-operation times and execution counts; undefined for very long definitions. */
  timeline?: Timeline | undefined;
  /** The run's annotations, stored with every snapshot built from this state. */
  annotations?: RunAnnotations | undefined;
  /** Where the time of every save (`updatedAt`) is read: the foundry's clock, or the coordinator's. Not leases: those are real time. */
  readonly clock: Clock;
  /** The wait at `next`, once reached: its wake time and the event it waits for (see the snapshot's fields). */
  wakeAt?: string | undefined;
  waitingFor?: string | undefined;
  consumedEvents?: string[] | undefined;
  cancelledAt?: string | undefined;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The snapshot of the next revision at `now`, with `properties` as they are then (copied one level deep). */
export function snapshotOf(state: SnapshotState, status: SnapshotStatus, properties: object, error = state.error, now = state.clock.now()): WorkflowExecutionSnapshot {
  const updatedAt = isoTime(now);
  state.createdAt ??= updatedAt;
  const snapshot: Writable<WorkflowExecutionSnapshot> = {
    formatVersion: 1,
    // Named rather than spread: a spread in the middle of a literal builds the object key by key.
    foundryExecutionId: state.keys.foundryExecutionId,
    workflowId: state.keys.workflowId,
    workflowName: state.workflow.name,
    definitionFingerprint: state.fingerprint,
    operationCount: state.workflow.operations.length,
    nextOperationIndex: state.next,
    properties: { ...(properties as Record<string, unknown>) },
    status,
    revision: state.revision + 1,
    owner: state.options.owner,
    createdAt: state.createdAt,
    updatedAt,
  };
  if (state.workflow.version !== undefined) snapshot.workflowVersion = state.workflow.version;
  if (state.lastOutput !== undefined) snapshot.lastOutput = state.lastOutput;
  if (hasKeys(state.outputs)) snapshot.outputs = { ...state.outputs };
  // Only a record that ended in (or undoes) a failure stores one: a retried failure's error, loaded into the state, is not a waiting run's.
  if (error !== undefined && (status === "failed" || status === "compensating" || status === "cancelled")) snapshot.error = error;
  // Leases are real time whatever the clock: every worker, and the CLI, compares them with Date.now().
  if (state.options.leaseTtlMs !== undefined) snapshot.leaseExpiresAt = isoTime((state.clock === systemClock ? now : Date.now()) + state.options.leaseTtlMs);
  if (state.attempts !== undefined) snapshot.attempts = state.attempts;
  if (state.timeline !== undefined) snapshot.timeline = state.timeline.toSnapshot();
  const annotations = annotationsOf(state);
  if (annotations !== undefined) snapshot.annotations = annotations;
  if (state.wakeAt !== undefined || state.waitingFor !== undefined || state.consumedEvents !== undefined || state.cancelledAt !== undefined) addWaitFields(snapshot, state);
  return snapshot;
}

// Only runs that wait or were cancelled pay for these fields.
function addWaitFields(snapshot: Writable<WorkflowExecutionSnapshot>, state: SnapshotState): void {
  if (state.wakeAt !== undefined) snapshot.wakeAt = state.wakeAt;
  if (state.waitingFor !== undefined) snapshot.waitingFor = state.waitingFor;
  if (state.consumedEvents !== undefined && state.consumedEvents.length > 0) snapshot.consumedEvents = [...state.consumedEvents];
  if (state.cancelledAt !== undefined) snapshot.cancelledAt = state.cancelledAt;
}

// The last definition fingerprinted: each run of a foundry gets a new copy of its operations, and
// hashing 200 names costs 13 µs where comparing them costs a fraction. Names only, so that no
// operation (or what its functions hold) is kept alive by the cache.
let last: { readonly version: string | undefined; readonly names: readonly string[]; readonly fingerprint: string } | undefined;

/** {@link fingerprintOf} `workflow`, not computed again for the definition of the previous call. */
export function fingerprintFor(workflow: Pick<WorkflowInfo, "version" | "operations">): string {
  const { version, operations } = workflow;
  const known = last;
  if (known !== undefined && known.version === version && known.names.length === operations.length && operations.every((operation, index) => operation.name === known.names[index])) {
    return known.fingerprint;
  }
  const names = operations.map((operation) => operation.name);
  last = { version, names, fingerprint: definitionFingerprint(version, names) };
  return last.fingerprint;
}

/** Records in `state` that the operation of `context` completed at `now` with `result`. */
export function completedIn(state: SnapshotState, context: Pick<OperationContext<any>, "index" | "operation" | "run">, result: unknown, now: number): void {
  // Operations a layer outside persistence answered for (an error it recovered, a cached result)
  // completed unseen here: what their restore will receive is the run's.
  for (let index = state.next; index < context.index; index++) {
    if (state.workflow.operations[index]?.restore !== undefined && !(index in state.outputs)) state.outputs[index] = context.run.restoreData[index];
  }
  state.timeline?.finished(context.index, now);
  // The wait that just ended (if it was one): the next wait fixes its own wake time.
  if (state.wakeAt !== undefined || state.waitingFor !== undefined) [state.wakeAt, state.waitingFor] = [undefined, undefined];
  if (context.operation.restore !== undefined) state.outputs[context.index] = restoreDataOf(result);
  state.lastOutput = outputOf(result);
  state.next = context.index + 1;
}

/**
 * Whether a run that resolved left its record short of finished: a layer outside persistence turned
 * the last operation's error into its output (the record says `failed`), answered for the last
 * operation without calling next() (the record stops before the end), or resolved although the last
 * operation's signal aborted during its checkpoint, so that its delete was not asked for (the record
 * is past the end, and stored). Not a record stored `waiting`: its suspension gave the instance to the
 * coordinators, whatever a layer made of the wait (see docs/waits.md), and it is theirs to finish.
 */
export function leftUnfinished(state: SnapshotState): boolean {
  return state.status === "failed" || (state.status === "running" && (state.next < state.workflow.operations.length || state.revision > 0));
}

/** Such a run, as its last checkpoint would have left it: every operation done, `output` the last. */
export function resolvedIn(state: SnapshotState, output: unknown): void {
  [state.next, state.status, state.error] = [state.workflow.operations.length, "running", undefined];
  state.lastOutput = outputOf(output);
}

/** Continues `snapshot` in `state`: where it stopped, its outputs, error, attempts and timeline. */
export function continueFrom(state: SnapshotState, snapshot: WorkflowExecutionSnapshot): void {
  state.createdAt = snapshot.createdAt;
  state.next = snapshot.nextOperationIndex;
  state.outputs = { ...snapshot.outputs };
  state.lastOutput = snapshot.lastOutput;
  state.error = snapshot.error;
  state.attempts = snapshot.attempts;
  state.wakeAt = snapshot.wakeAt;
  state.waitingFor = snapshot.waitingFor;
  state.consumedEvents = snapshot.consumedEvents === undefined ? undefined : [...snapshot.consumedEvents];
  state.cancelledAt = snapshot.cancelledAt;
  const created = Date.parse(snapshot.createdAt);
  state.timeline = Timeline.of(state.workflow.operations.length, Number.isNaN(created) ? Date.now() : created, snapshot.timeline);
}

/** `snapshot` without its lease: the claim given back (a suspension, a release). */
export function unleased(snapshot: WorkflowExecutionSnapshot): WorkflowExecutionSnapshot {
  const released: Writable<WorkflowExecutionSnapshot> = { ...snapshot };
  delete released.leaseExpiresAt;
  return released;
}

/**
 * A claimed record given back without having run (the coordinator closing, a foundry that could not
 * be made, a shutdown before the wait): a `waiting` one is stored `running`, keeping its wait fields.
 * The claim was due (a wake time that passed, or a delivery's mark), but this save clears the mark,
 * and an event wait has no wake time to be found by again: kept `waiting`, it would never be
 * claimed though its event sits in the mailbox. `running` and unleased, it is claimable at once; its
 * run goes back to the wait, which consumes the event or suspends again (re-reading the mailbox).
 */
export function handedBack(record: Record<string, unknown>): Record<string, unknown> {
  if (record.status === "waiting") record.status = "running";
  return record;
}

/**
 * `snapshot` given back by the claim that took it, without having run on: no lease, and without the
 * attempt that claim counted, {@link handedBack} so that a woken wait stays claimable.
 */
export function givenBack(snapshot: WorkflowExecutionSnapshot): WorkflowExecutionSnapshot {
  const released: Record<string, unknown> = { ...unleased(snapshot) };
  if (typeof snapshot.attempts === "number" && snapshot.attempts > 0) released.attempts = snapshot.attempts - 1;
  return handedBack(released) as unknown as WorkflowExecutionSnapshot;
}

/**
 * What the last checkpoint stored, marked failed with `error`, with the run's timeline and annotations as they are now.
 * The stored record may be an earlier run's: this run writes it, so it names this run's owner and keeps a lease only if this run holds one.
 */
export function failedFrom(stored: WorkflowExecutionSnapshot, error: StoredError, state: SnapshotState): WorkflowExecutionSnapshot {
  const failed: Writable<WorkflowExecutionSnapshot> = { ...stored, status: "failed", error, owner: state.options.owner };
  if (state.options.leaseTtlMs === undefined) delete failed.leaseExpiresAt;
  if (state.timeline !== undefined) failed.timeline = state.timeline.toSnapshot();
  const annotations = annotationsOf(state);
  if (annotations !== undefined) failed.annotations = annotations;
  return failed;
}

/** The run's annotations as a snapshot stores them; undefined when there are none. */
export function annotationsOf(state: Pick<SnapshotState, "annotations">): Record<string, string> | undefined {
  const annotations = state.annotations;
  return annotations === undefined || annotations.size === 0 ? undefined : Object.fromEntries(annotations.entries());
}

/** What `snapshotSaved` and `snapshotRestored` listeners receive. */
export function snapshotEvent(snapshot: WorkflowExecutionSnapshot): SnapshotEvent {
  const { foundryExecutionId, workflowId, nextOperationIndex, status, revision } = snapshot;
  return { foundryExecutionId, workflowId, nextOperationIndex, status, revision };
}

// Formatting a date costs more than the rest of a small checkpoint, and many saves land in the same
// millisecond. A save under a lease formats two instants (now, and now + the TTL), so the last two
// are kept, and past them the text up to the second is, so a new millisecond appends its digits.
let [ms0, ms1, iso0, iso1] = [Number.NaN, Number.NaN, "", ""];
const secondPrefixes = new Map<number, string>();
const lastValidMs = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z: the last the plain form spells
export function isoTime(ms: number): string {
  if (ms === ms0) return iso0;
  if (ms === ms1) return iso1;
  [ms1, iso1] = [ms0, iso0];
  [ms0, iso0] = [ms, formatIso(ms)];
  return iso0;
}

function formatIso(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > lastValidMs) return new Date(ms).toISOString();
  const milli = ms % 1000;
  const second = ms - milli;
  let prefix = secondPrefixes.get(second);
  if (prefix === undefined) {
    if (secondPrefixes.size >= 8) secondPrefixes.clear();
    prefix = new Date(second).toISOString().slice(0, 20);
    secondPrefixes.set(second, prefix);
  }
  return `${prefix}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}

function hasKeys(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true;
  return false;
}
