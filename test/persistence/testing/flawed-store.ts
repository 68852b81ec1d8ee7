import {
  claimArrivedLate,
  claimedSnapshot,
  isClaimable,
  matchesFilter,
  SnapshotConflictError,
  type ClaimRequest,
  type ProviderCapabilities,
  type SnapshotFilter,
  type WorkflowExecutionSnapshot,
  type WorkflowPersistenceProvider,
} from "../../../src/persistence/index.js";
import { pairKey } from "../../../src/persistence/keys.js";

/** One way a provider a user could plausibly write is wrong; none set is a provider that passes the kit. */
export interface Flaws {
  /** Compare-and-set and claim() are atomic only within one provider object: a lock of its own around read → await → write. */
  readonly objectLocal?: boolean;
  /** Every record in one document, which each save and delete reads, awaits and writes back whole. */
  readonly oneDocument?: boolean;
  /** claim() and list() hand out the objects the store keeps. */
  readonly sharesObjects?: boolean;
  /** list() returns only a first page of this many matches, as a provider ignoring a continuation token would. */
  readonly pageSize?: number;
  /** claim() takes records under a live lease too, as one comparing the lease with the wrong clock would. */
  readonly ignoresLeases?: boolean;
  /** claim() judges by the request's `now` alone, never by its own clock: a claim run after its lease ended still takes records. */
  readonly claimsLate?: boolean;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const keyOf = (snapshot: Pick<WorkflowExecutionSnapshot, "foundryExecutionId" | "workflowId">): string => pairKey(snapshot);
// structuredClone refuses a function, as an encoding store would, before anything is written.
const copy = (snapshot: WorkflowExecutionSnapshot): WorkflowExecutionSnapshot => structuredClone(snapshot);

/**
 * A store of records in memory, shared by every provider object `open()` makes (as processes share a
 * database), with the flaws asked for. It declares compare-and-set, list and claim unless told otherwise.
 */
export function flawedStore(flaws: Flaws = {}, capabilities: ProviderCapabilities = { compareAndSet: true, list: true, claim: true }) {
  let rows = new Map<string, WorkflowExecutionSnapshot>();
  const handOut = (snapshot: WorkflowExecutionSnapshot) => (flaws.sharesObjects === true ? snapshot : copy(snapshot));
  const checkRevision = (snapshot: WorkflowExecutionSnapshot, stored: WorkflowExecutionSnapshot | undefined) => {
    if (capabilities.compareAndSet !== true || (stored?.revision ?? 0) === snapshot.revision - 1) return;
    throw new SnapshotConflictError({ keys: snapshot, detail: `the stored revision is ${stored?.revision ?? 0}` });
  };
  // One write: the document read, then written back whole after a turn, or the map changed at once.
  const write = async (change: (document: Map<string, WorkflowExecutionSnapshot>) => void) => {
    if (flaws.oneDocument !== true) return change(rows);
    const document = new Map(rows);
    await turn();
    change(document);
    rows = document;
  };
  const claimNow = (request: ClaimRequest) => {
    if (flaws.claimsLate !== true && claimArrivedLate(request)) return [];
    // The lease read as past: the record's as it is now.
    const leased = (snapshot: WorkflowExecutionSnapshot) => (flaws.ignoresLeases === true ? { ...snapshot, leaseExpiresAt: request.now } : snapshot);
    const found = [...rows.values()].filter((snapshot) => isClaimable(leased(snapshot), request)).slice(0, request.limit);
    return found.map((snapshot) => claimedSnapshot(snapshot, request));
  };

  function open(): WorkflowPersistenceProvider {
    let lock: Promise<unknown> = Promise.resolve();
    // Serialises this object's calls only: another object's interleave with them.
    const exclusive = <T>(body: () => Promise<T>): Promise<T> => {
      const result = lock.then(body);
      lock = result.catch(() => undefined);
      return result;
    };
    const save = async (snapshot: WorkflowExecutionSnapshot): Promise<void> => {
      const stored = copy(snapshot);
      if (flaws.objectLocal !== true) {
        return write((document) => {
          checkRevision(snapshot, document.get(keyOf(snapshot)));
          document.set(keyOf(snapshot), stored);
        });
      }
      return exclusive(async () => {
        const current = rows.get(keyOf(snapshot));
        await turn();
        checkRevision(snapshot, current);
        rows.set(keyOf(snapshot), stored);
      });
    };
    const store = (claimed: WorkflowExecutionSnapshot[]) =>
      claimed.map((snapshot) => {
        rows.set(keyOf(snapshot), snapshot);
        return handOut(snapshot);
      });
    const claim = async (request: ClaimRequest): Promise<WorkflowExecutionSnapshot[]> => {
      if (flaws.objectLocal !== true) return store(claimNow(request));
      return exclusive(async () => {
        const claimed = claimNow(request);
        await turn();
        return store(claimed);
      });
    };
    return {
      capabilities,
      async save(snapshot, signal) {
        signal?.throwIfAborted();
        await save(snapshot);
      },
      tryLoad(instance, workflow, signal) {
        signal?.throwIfAborted();
        const stored = rows.get(keyOf({ foundryExecutionId: instance, workflowId: workflow }));
        return stored === undefined ? undefined : copy(stored);
      },
      async delete(instance, workflow, signal) {
        signal?.throwIfAborted();
        await write((document) => void document.delete(keyOf({ foundryExecutionId: instance, workflowId: workflow })));
      },
      list(filter?: SnapshotFilter, signal?: AbortSignal) {
        signal?.throwIfAborted();
        const found = [...rows.values()].filter((snapshot) => matchesFilter(snapshot, filter)).map(handOut);
        return Promise.resolve(found.slice(0, flaws.pageSize ?? found.length));
      },
      async claim(request, signal) {
        signal?.throwIfAborted();
        return claim(request);
      },
    };
  }
  return { open, size: () => rows.size };
}
