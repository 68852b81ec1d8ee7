import type Database from "better-sqlite3";
import type { Redis } from "ioredis";
import type { SnapshotKeys } from "../../../src/persistence/errors.js";
import type { PostgresClient } from "../../../src/persistence/providers/postgres.js";
import { encodeKey } from "../../../src/persistence/providers/postgres-sql.js";
import { storedKey } from "../../../src/persistence/providers/stored-keys.js";

// The conformance kit's corrupt(keys) hook for each shipped store, on its default table or prefix:
// each leaves the record where it is, unreadable, as damage or another program would.

/** SQLite: junk in the data column of the record's row. */
export function corruptSqliteRow(database: Database.Database, keys: SnapshotKeys): void {
  const changed = database
    .prepare("UPDATE workflowforge_snapshots SET data = 'junk' WHERE instance_id = ? AND workflow_id = ?")
    .run(storedKey(keys.foundryExecutionId), storedKey(keys.workflowId)).changes;
  if (changed !== 1) throw new Error(`no row for ${JSON.stringify(keys)}`);
}

/** Postgres: junk in the data column of the record's row. */
export async function corruptPostgresRow(client: PostgresClient, keys: SnapshotKeys): Promise<void> {
  const sql = "UPDATE workflowforge_snapshots SET data = 'junk' WHERE instance_id = $1 AND workflow_id = $2";
  const result = await client.query(sql, [encodeKey(keys.foundryExecutionId), encodeKey(keys.workflowId)]);
  if ((result.rowCount ?? result.affectedRows) !== 1) throw new Error(`no row for ${JSON.stringify(keys)}`);
}

/** Redis: the record's hash replaced by a string, which no save writes; it stays indexed, so list() meets it. */
export async function corruptRedisRecord(admin: Redis, keys: SnapshotKeys): Promise<void> {
  const record = `workflowforge:s:${JSON.stringify([keys.foundryExecutionId, keys.workflowId])}`;
  if ((await admin.del(record)) !== 1) throw new Error(`no record ${record}`);
  await admin.set(record, "junk");
}
