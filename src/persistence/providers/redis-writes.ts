import type { SnapshotCodec } from "../codec/codec.js";
import { PersistenceError, SnapshotConflictError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { GroupCommit, type GroupedWrite, type GroupOutcome } from "./group-commit.js";
import { dueFieldsOf, leaseMsOf } from "./redis-claim.js";
import { callToken, createScript, deleteScript, groupScript, memberOf, textOf, updateScript } from "./redis-layout.js";
import { encodeForStorage } from "./stored.js";

// RedisPersistenceProvider's saves and deletes. Each goes as its own script, or, when others
// arrive while one is in flight, together with them as one script (group commit): a worker
// running many instances at once sends one command for the checkpoints they reached together,
// each still with its own compare-and-set, and the client's and the server's cost per command
// (the system calls, the reply, the script's start) is shared between them.
//
// One queue serves saves and deletes, and sends the writes of an instance one at a time, in the
// order they were called (see GroupCommit): not trusting the connection's order, which a script
// sent again after NOSCRIPT, or one waiting for its SHA-1, would break.

const source = "redis";

/** Most writes one command carries, and most characters of data in it (a larger save goes alone). */
const groupLimits = { rows: 16, size: 1 << 20 } as const;

type Kind = "c" | "u" | "d";

interface RedisWrite extends GroupedWrite {
  readonly kind: Kind;
  readonly keys: SnapshotKeys;
  readonly revision: number;
  readonly record: string;
  readonly events: string;
  /** The script's arguments, as the write's function reads them (see redis-layout). */
  readonly args: string[];
}

/** The provider's key names, its codec, and how it runs a script and reports a failed one. */
export interface RedisWriterParts {
  readonly codec: SnapshotCodec;
  /** `<prefix>s:`, `<prefix>e:`, and the index, claimable and dead letters' keys. */
  readonly names: { readonly records: string; readonly events: string; readonly index: string; readonly claimable: string; readonly dead: string };
  /** Completed records' expiry in seconds, "0" for none. */
  readonly ttl: string;
  readonly script: (script: string, keys: string[], args: string[], call: ProviderCall, snapshotKeys: SnapshotKeys) => Promise<unknown>;
  readonly failure: (call: ProviderCall, keys: SnapshotKeys, cause: unknown) => PersistenceError;
}

export class RedisWriter {
  readonly #parts: RedisWriterParts;
  readonly #queue = new GroupCommit<RedisWrite>({ alone: (write) => this.#alone(write), together: (writes) => this.#together(writes) }, groupLimits);

  constructor(parts: RedisWriterParts) {
    this.#parts = parts;
  }

  /** Rejects with `SnapshotConflictError` unless the stored revision is `snapshot.revision - 1`. */
  save(snapshot: WorkflowExecutionSnapshot, signal: AbortSignal | undefined): Promise<boolean> {
    const { foundryExecutionId, workflowId, revision, status, workflowName } = snapshot;
    const keys = { foundryExecutionId, workflowId };
    // Encoding first: a snapshot the codec refuses writes nothing.
    const data = encodeForStorage(this.#parts.codec, snapshot);
    const member = memberOf(keys);
    const [lease, attempts, ttl] = [leaseMsOf(snapshot.leaseExpiresAt), String(snapshot.attempts ?? 0), this.#parts.ttl];
    const due = dueFieldsOf(snapshot, lease);
    const token = callToken();
    const args = revision === 1 ? [data, status, workflowId, workflowName, member, ttl, lease, attempts, ...due, token] : [String(revision), data, status, workflowName, String(revision - 1), ttl, lease, attempts, member, ...due, token];
    return this.#submit(revision === 1 ? "c" : "u", keys, member, revision, data.length, args, signal);
  }

  /** Deletes the record and its events, and takes it out of every set. */
  delete(keys: SnapshotKeys, signal: AbortSignal | undefined): Promise<boolean> {
    const member = memberOf(keys);
    return this.#submit("d", keys, member, 0, 0, [member], signal);
  }

  #submit(kind: Kind, keys: SnapshotKeys, member: string, revision: number, size: number, args: string[], signal: AbortSignal | undefined): Promise<boolean> {
    const { records, events } = this.#parts.names;
    return this.#queue.submit({ kind, key: member, size, signal, keys, revision, record: records + member, events: events + member, args });
  }

  async #alone(write: RedisWrite): Promise<boolean> {
    const { index, claimable, dead } = this.#parts.names;
    const { kind, record, events, keys, args } = write;
    const call = kind === "d" ? "delete" : "save";
    const reply =
      kind === "c"
        ? await this.#parts.script(createScript, [record, index, claimable, events], args, call, keys)
        : kind === "u"
          ? await this.#parts.script(updateScript, [record, claimable, events, dead], args, call, keys)
          : await this.#parts.script(deleteScript, [record, index, claimable, events, dead], args, call, keys);
    if (reply === null || reply === undefined) return true;
    const stored = textOrUndefined(reply);
    if (stored === undefined) throw this.#parts.failure(callOf(write), keys, new Error(`unexpected reply ${typeof reply}`));
    throw refused(write, stored);
  }

  async #together(writes: readonly RedisWrite[]): Promise<readonly GroupOutcome[]> {
    const { index, claimable, dead } = this.#parts.names;
    const keys = [index, claimable, dead, ...writes.flatMap((write) => [write.record, write.events])];
    const args = writes.flatMap((write) => [write.kind, ...write.args]);
    let reply: unknown;
    try {
      reply = await this.#parts.script(groupScript, keys, args, "save", writes[0]!.keys);
    } catch (error) {
      // Unanswered or refused as a whole (the connection, the deadline): each write is told so under its own keys.
      const cause = error instanceof PersistenceError ? error.cause : error;
      return writes.map((write) => this.#parts.failure(callOf(write), write.keys, cause));
    }
    const outcomes: unknown[] = Array.isArray(reply) ? reply : [];
    return writes.map((write, i) => {
      const outcome = textOrUndefined(outcomes[i]);
      if (outcome === "") return true;
      if (outcome?.startsWith("r") === true) return refused(write, outcome.slice(1));
      if (outcome?.startsWith("e") === true) return this.#parts.failure(callOf(write), write.keys, new Error(outcome.slice(1)));
      return this.#parts.failure(callOf(write), write.keys, new Error(`the group's script returned no outcome for this write (${outcome === undefined ? typeof outcomes[i] : JSON.stringify(outcome)})`));
    });
  }
}

// A reply as text, or undefined for one that is not a string (a misbehaving server or proxy).
function textOrUndefined(reply: unknown): string | undefined {
  return typeof reply === "string" || reply instanceof Uint8Array ? textOf(reply) : undefined;
}

const callOf = (write: RedisWrite): ProviderCall => (write.kind === "d" ? "delete" : "save");

function refused(write: RedisWrite, stored: string): SnapshotConflictError {
  return new SnapshotConflictError({ source, keys: write.keys, call: "save", detail: `revision ${write.revision} was refused: the stored revision is ${stored}` });
}
