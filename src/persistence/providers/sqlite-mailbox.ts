import type { SnapshotCodec } from "../codec/codec.js";
import { SnapshotCorruptedError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import { eventKeys, type DeliveredEvent } from "../mailbox.js";
import type { SqliteDatabase, SqliteStatement } from "./sqlite-options.js";
import type { SqliteStatementTexts } from "./sqlite-sql.js";
import { requireEvent } from "./shared.js";
import { decodePayload, encodePayload } from "./stored.js";
import { keyOfStored, storedKey } from "./stored-keys.js";

// deliver() and receive() of SqlitePersistenceProvider, and the savepoint its writes of more than
// one step share. better-sqlite3 is synchronous, so the steps inside a savepoint are one atomic
// write: no save, claim or delivery runs between them, in this process or (under the file's write
// lock) any other.

/** The provider's way to run driver calls: statements made on first use, driver errors as PersistenceError. */
export type Guard = <T>(call: ProviderCall, keys: SnapshotKeys, body: (statements: MailboxStatements) => T) => T;

/** The prepared statements of the mailbox. */
export type MailboxStatements = Readonly<Record<"storeEvent" | "markDue" | "receive" | "removeEvents" | "begin" | "commit" | "rollback", SqliteStatement>>;

interface EventRow {
  readonly event_id?: unknown;
  readonly payload?: unknown;
  readonly sent_at?: unknown;
}

// A savepoint, not BEGIN: it nests inside a transaction the application holds on the connection.
const savepoint = "workflowforge_write";

/** The mailbox's statements, prepared once the tables exist. */
export function prepareMailbox(database: SqliteDatabase, sql: SqliteStatementTexts): MailboxStatements {
  const prepare = (text: string): SqliteStatement => database.prepare(text);
  return {
    storeEvent: prepare(sql.storeEvent),
    markDue: prepare(sql.markDue),
    receive: prepare(sql.receive),
    removeEvents: prepare(sql.removeEvents),
    begin: prepare(`SAVEPOINT ${savepoint}`),
    commit: prepare(`RELEASE ${savepoint}`),
    rollback: prepare(`ROLLBACK TO ${savepoint}`),
  };
}

/**
 * `finish(write(statements))` in one savepoint: kept when it returns, undone when either throws.
 * Driver errors of `write` and of the savepoint go through `guard`; what `finish` throws (a row
 * that cannot be decoded, say) is rethrown as it is.
 */
export function inSavepoint<W, T>(guard: Guard, call: ProviderCall, keys: SnapshotKeys, write: (statements: MailboxStatements) => W, finish: (written: W) => T): T {
  const statements = guard(call, keys, (opened) => {
    opened.begin.run();
    return opened;
  });
  try {
    const result = finish(guard(call, keys, write));
    guard(call, keys, ({ commit }) => commit.run());
    return result;
  } catch (error) {
    // SQLite may have rolled back already (a full disk, say): the error that matters is the first.
    try {
      statements.rollback.run();
      statements.commit.run();
    } catch {
      // nothing left to undo
    }
    throw error;
  }
}

/** Stores `event` unless its id is there and marks its waiting row due, in one transaction; true when stored. */
export function deliverEvent(guard: Guard, codec: SnapshotCodec, event: DeliveredEvent): boolean {
  requireEvent(event, "SqlitePersistenceProvider.deliver(event)");
  // Encoding first: a payload the codec refuses writes nothing.
  const payload = encodePayload(codec, event);
  const [instance, workflow] = [storedKey(event.foundryExecutionId), storedKey(event.workflowId)];
  const [eventId, name] = [storedKey(event.eventId), storedKey(event.name)];
  const store = ({ storeEvent, markDue }: MailboxStatements): boolean => {
    const stored = storeEvent.run(instance, workflow, eventId, name, payload, event.sentAt).changes === 1;
    if (stored) markDue.run(instance, workflow, name);
    return stored;
  };
  return inSavepoint(guard, "deliver", eventKeys(event), store, (stored) => stored);
}

/** The instance's events named `name`, oldest first, payloads decoded. */
export function receiveEvents(guard: Guard, codec: SnapshotCodec, keys: SnapshotKeys, name: string): DeliveredEvent[] {
  const { foundryExecutionId, workflowId } = keys;
  const rows = guard("receive", keys, ({ receive }) => receive.all(storedKey(foundryExecutionId), storedKey(workflowId), storedKey(name))) as EventRow[];
  return rows.map((row) => {
    const eventId = typeof row.event_id === "string" ? keyOfStored(row.event_id) : undefined;
    if (eventId === undefined || typeof row.sent_at !== "string") throw new SnapshotCorruptedError(keys, `an event named ${JSON.stringify(name)} has an event_id or sent_at column no delivery writes`);
    return { foundryExecutionId, workflowId, name, eventId, payload: decodePayload(codec, row.payload, keys), sentAt: row.sent_at };
  });
}
