import type { SnapshotCodec } from "../codec/codec.js";
import { PersistenceError, SnapshotConflictError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { GroupCommit, type GroupedWrite, type GroupOutcome } from "./group-commit.js";
import { KeyOrder } from "./key-order.js";
import type { SendQuery } from "./postgres-mailbox.js";
import { instantOf } from "./postgres-options.js";
import { batchDeleteStatement, batchSaveStatement } from "./postgres-batch-sql.js";
import { encodeKey, type PostgresStatements } from "./postgres-sql.js";
import { asError } from "./shared.js";
import { encodeForStorage } from "./stored.js";
import { wakeMsOf } from "./sql-query.js";

// PostgresPersistenceProvider's saves and deletes. Each goes as its own statement, or, when others
// arrive while one is in flight, together with them as one statement (group commit): a worker
// running many instances at once sends one statement for the checkpoints they reached together,
// each still with its own compare-and-set.

const source = "postgres";

/** One save or delete: its keys, its parameters, and, for a save, its revision. */
interface PostgresWrite extends GroupedWrite {
  readonly keys: SnapshotKeys;
  readonly values: unknown[];
  readonly revision: number;
  /** A waiting save's consumed event ids (JSON of their stored form): it goes alone, by the statement that reads the mailbox. */
  readonly consumed?: string | undefined;
}

/** Most writes one statement carries, and most characters of data in it (a larger save goes alone). */
const batchLimits = { rows: 16, size: 1 << 20 } as const;

/** The texts for 2 to 16 writes at index `rows - 2`, for saves and for deletes. */
export interface BatchTexts {
  readonly save: readonly string[];
  readonly delete: readonly string[];
}

export function batchTexts(table: string, mailbox: string): BatchTexts {
  const sizes = Array.from({ length: batchLimits.rows - 1 }, (_, index) => index + 2);
  return { save: sizes.map((rows) => batchSaveStatement(table, rows)), delete: sizes.map((rows) => batchDeleteStatement(table, mailbox, rows)) };
}

// SQLSTATEs of a statement the server refused or cancelled as a whole before it committed, so that
// nothing of it was stored: data exceptions (class 22), integrity violations (23), a limit such as
// an index entry too large (54), a serialization failure or deadlock (40001, 40002, 40P01), a
// statement cancelled by statement_timeout (57014) or a lock not granted within lock_timeout
// (55P03), as when one write of the group waits on a row another transaction holds. Each write is
// then sent by itself, and only the one at fault fails. Not among them: a lost connection, or
// 40003 (completion unknown): the statement may have committed, and sent again, its saves would be
// refused as conflicts.
const refusedClasses = new Set(["22", "23", "54"]);
const refusedCodes = new Set(["40001", "40002", "40P01", "57014", "55P03"]);

function refusedAsAWhole(error: unknown): boolean {
  const code = error instanceof PersistenceError ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
  return typeof code === "string" && (refusedCodes.has(code) || refusedClasses.has(code.slice(0, 2)));
}

// Encoded keys hold no NUL, so the joined pair names one instance.
const groupKey = (instance: string, workflow: string): string => `${instance}\u0000${workflow}`;

export interface GroupedWriterParts {
  readonly send: SendQuery;
  readonly sql: PostgresStatements;
  readonly codec: SnapshotCodec;
  readonly batches: BatchTexts;
  /** True once the table is known to exist: until then each write goes alone, through the setup. */
  readonly ready: () => boolean;
  /** The error a write gets when the statement it was in failed in the driver. */
  readonly failure: (call: ProviderCall, keys: SnapshotKeys, cause: unknown) => PersistenceError;
}

/**
 * Saves and deletes, each grouped with those of its kind that arrive while a statement is in flight.
 * The writes of one instance go one at a time, in the order they were called.
 */
export class GroupedWriter {
  readonly #parts: GroupedWriterParts;
  readonly #order = new KeyOrder();
  readonly #saves = new GroupCommit<PostgresWrite>({ alone: (save) => this.#saveAlone(save), together: (saves) => this.#together("save", saves) }, batchLimits);
  readonly #deletes = new GroupCommit<PostgresWrite>({ alone: (remove) => this.#deleteAlone(remove), together: (deletes) => this.#together("delete", deletes) }, batchLimits);

  constructor(parts: GroupedWriterParts) {
    this.#parts = parts;
  }

  /** Rejects with `SnapshotConflictError` unless the stored revision is `snapshot.revision - 1`. */
  async save(snapshot: WorkflowExecutionSnapshot, signal: AbortSignal | undefined): Promise<void> {
    const { foundryExecutionId, workflowId, revision, status } = snapshot;
    const keys = { foundryExecutionId, workflowId };
    // Encoding first: a snapshot the codec refuses writes nothing.
    const data = encodeForStorage(this.#parts.codec, snapshot);
    const lease = snapshot.leaseExpiresAt === undefined ? null : instantOf(snapshot.leaseExpiresAt);
    const waitingFor = status === "waiting" && snapshot.waitingFor !== undefined ? encodeKey(snapshot.waitingFor) : null;
    const [instance, workflow] = [encodeKey(foundryExecutionId), encodeKey(workflowId)];
    // The name as a key is stored: NUL and lone surrogates escaped, so that a filter matches it alone.
    const values = [instance, workflow, revision, status, encodeKey(snapshot.workflowName), instantOf(snapshot.updatedAt), data, snapshot.owner ?? null, lease, snapshot.attempts ?? null, waitingFor, wakeMsOf(snapshot)];
    const key = groupKey(instance, workflow);
    // A waiting save is rare, and its statement reads the mailbox: it goes alone, in its instance's order.
    const consumed = waitingFor === null ? undefined : JSON.stringify((snapshot.consumedEvents ?? []).map(encodeKey));
    const write = { key, size: data.length, signal, keys, revision, values, consumed };
    const stored = await this.#order.run(key, () => (consumed === undefined ? this.#saves.submit(write) : this.#saveAlone(write)), signal);
    // No read of what is stored to explain it: a refused claim costs this one statement.
    if (!stored) throw new SnapshotConflictError({ source, call: "save", keys, detail: `revision ${revision} was refused: the stored revision is not ${revision - 1}` });
  }

  /** Deletes the instance's row and its delivered events. */
  async delete(keys: SnapshotKeys, signal: AbortSignal | undefined): Promise<void> {
    const [instance, workflow] = [encodeKey(keys.foundryExecutionId), encodeKey(keys.workflowId)];
    const key = groupKey(instance, workflow);
    await this.#order.run(key, () => this.#deletes.submit({ key, size: 0, signal, keys, revision: 0, values: [instance, workflow] }), signal);
  }

  async #together(call: "save" | "delete", writes: readonly PostgresWrite[]): Promise<readonly GroupOutcome[]> {
    const text = this.#parts.batches[call][writes.length - 2];
    if (text === undefined || !this.#parts.ready()) return this.#eachAlone(call, writes);
    try {
      const result = await this.#parts.send(call, writes[0]!.keys, undefined, text, writes.flatMap((write) => write.values));
      if (call === "delete") return writes.map(() => true);
      // The batch save returns the ordinal of each save it stored; one it does not return was refused.
      const stored = new Set((result.rows as { n?: unknown }[]).map((row) => Number(row.n)));
      return writes.map((_, index) => stored.has(index));
    } catch (error) {
      if (refusedAsAWhole(error)) return this.#eachAlone(call, writes);
      const cause = error instanceof PersistenceError ? error.cause : error;
      return writes.map((write) => this.#parts.failure(call, write.keys, cause));
    }
  }

  #eachAlone(call: "save" | "delete", writes: readonly PostgresWrite[]): Promise<GroupOutcome[]> {
    return Promise.all(writes.map((write) => (call === "save" ? this.#saveAlone(write) : this.#deleteAlone(write)).catch(asError)));
  }

  async #saveAlone({ keys, signal, revision, values, consumed }: PostgresWrite): Promise<boolean> {
    const { send, sql } = this.#parts;
    const result =
      consumed !== undefined
        ? await send("save", keys, signal, revision === 1 ? sql.insertWaiting : sql.updateWaiting, revision === 1 ? [...values, consumed] : [...values, revision - 1, consumed])
        : revision === 1
          ? await send("save", keys, signal, sql.insert, values)
          : await send("save", keys, signal, sql.update, [...values, revision - 1]);
    const changed = result.rowCount ?? result.affectedRows;
    if (typeof changed !== "number") {
      throw new PersistenceError({ source, call: "save", keys, detail: "the client's query result has neither rowCount nor affectedRows" });
    }
    return changed === 1;
  }

  async #deleteAlone({ keys, signal, values }: PostgresWrite): Promise<boolean> {
    await this.#parts.send("delete", keys, signal, this.#parts.sql.remove, values);
    return true;
  }
}
