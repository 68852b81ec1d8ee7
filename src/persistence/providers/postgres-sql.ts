import type { ClaimRequest } from "../provider.js";
import { claimFilterClauses, listQuery, type SqlDialect, type SqlQuery, type SqlStatementTexts } from "./sql-query.js";

// The SQL of PostgresPersistenceProvider, apart from the class so each file stays readable.

// Postgres text cannot hold NUL, and the UTF-8 wire encoding turns a lone surrogate into U+FFFD,
// so two different keys could land on one row. PGlite reads text with a TextDecoder, which drops
// a leading U+FEFF (a byte-order mark), so such a key would come back from list() as another.
// Those and the backslash (so the escape itself stays unambiguous) become \uXXXX; every other
// character is stored as is and reads as itself in SQL.
// eslint-disable-next-line no-control-regex -- NUL is exactly what has to be escaped
const unsafe = /^\uFEFF|[\\\u0000]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const escaped = /\\u([0-9a-f]{4})/g;

/** The injective text form a key is stored in. */
export function encodeKey(key: string): string {
  return key.replace(unsafe, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The key a stored `instance_id` or `workflow_id` stands for, or `undefined` when no key is stored that way. */
export function decodeKey(stored: string): string | undefined {
  const key = stored.replace(escaped, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  // Only the one spelling encodeKey writes: another (a raw backslash, `\u0041`) is a row that
  // tryLoad and delete of its key would never reach.
  return encodeKey(key) === stored ? key : undefined;
}


// One lock for every workflowforge table in the database ("workforg" in ASCII): creating a table
// is rare, so serialising all of them costs nothing, and no other application picks this number.
const migrationLock = "8606223190549902951";

/** Postgres's statements; its claim skips rows another claimer holds locked rather than waiting for them. */
export interface PostgresStatements extends SqlStatementTexts {
  /** The quoted, possibly schema-qualified table name. */
  readonly table: string;
}

// What a row read back holds beside its data: a claim writes these columns and leaves the data as
// it was, so where `revision` is ahead of the data's, they are the record's claim.
const claimColumns = "revision::float8 AS revision, owner, (extract(epoch FROM lease_expires_at) * 1000)::float8 AS lease_ms, (extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms";

// Concurrent `CREATE TABLE IF NOT EXISTS` can fail with a unique violation on pg_type: both
// sessions see no table and both insert its row type. So a session that finds no table takes an
// advisory lock, held until the DO block's implicit transaction commits, and creators take turns;
// each statement of the block reads a fresh snapshot, so the next one finds the table and skips.
// The lock is taken only when the table is missing: a provider used inside a caller's long
// transaction must not hold it, and a role without CREATE on the schema passes once a deploy step
// has made the table.
function migrateStatement(table: string, schema: string | undefined, index: string): string {
  const createSchema =
    schema === undefined ? "" : `IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${schema}') THEN CREATE SCHEMA "${schema}"; END IF;`;
  return `DO $workflowforge$
BEGIN
  IF to_regclass('${table}') IS NULL THEN
    PERFORM pg_advisory_xact_lock(${migrationLock});
    ${createSchema}
    CREATE TABLE IF NOT EXISTS ${table} (
      instance_id TEXT NOT NULL,
      workflow_id TEXT NOT NULL,
      revision BIGINT NOT NULL,
      status TEXT NOT NULL,
      workflow_name TEXT NOT NULL,
      updated_at TIMESTAMPTZ,
      data TEXT NOT NULL,
      owner TEXT,
      lease_expires_at TIMESTAMPTZ,
      attempts INTEGER,
      PRIMARY KEY (instance_id, workflow_id)
    );
  END IF;
  -- Tables made before claim(): the claim's columns, and the index its statement reads.
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('${table}') AND attname = 'lease_expires_at' AND NOT attisdropped) THEN
    PERFORM pg_advisory_xact_lock(${migrationLock});
    ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS owner TEXT, ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMPTZ, ADD COLUMN IF NOT EXISTS attempts INTEGER;
  END IF;
  IF to_regclass('${schema === undefined ? `"${index}"` : `"${schema}"."${index}"`}') IS NULL THEN
    PERFORM pg_advisory_xact_lock(${migrationLock});
    CREATE INDEX IF NOT EXISTS "${index}" ON ${table} (status);
  END IF;
END
$workflowforge$`;
}

const dialect: SqlDialect = {
  param: (values, value) => `$${values.push(value)}`,
  storedWorkflowId: (workflowId) => encodeKey(workflowId),
};

// Unfinished, of the filter's statuses, under no live lease, not a dead letter: isClaimable in SQL.
// The status index narrows the scan to unfinished rows; the lease is not indexed, as every
// checkpoint renews it and an indexed column would cost each of them a non-HOT update.
function claimStatement(table: string, request: ClaimRequest): SqlQuery | undefined {
  const { owner, leaseExpiresAt, now, maxAttempts, limit } = request;
  const values: unknown[] = [owner, leaseExpiresAt, now, maxAttempts, limit];
  const clauses = claimFilterClauses(dialect, request, values);
  if (clauses === undefined) return undefined;
  const claimable = [...clauses, "(lease_expires_at IS NULL OR lease_expires_at <= $3)", "NOT (status IN ('failed', 'compensating') AND COALESCE(attempts, 0) >= $4)"];
  const text =
    `UPDATE ${table} AS s SET revision = s.revision + 1, owner = $1, lease_expires_at = $2, updated_at = $3, attempts = COALESCE(s.attempts, 0) + 1 ` +
    `FROM (SELECT instance_id, workflow_id FROM ${table} WHERE ${claimable.join(" AND ")} LIMIT $5 FOR UPDATE SKIP LOCKED) AS c ` +
    "WHERE s.instance_id = c.instance_id AND s.workflow_id = c.workflow_id RETURNING s.instance_id, s.workflow_id, s.data, s.revision::float8 AS revision";
  return { text, values };
}


/** Every statement for one table; names were validated as identifiers before they get here. */
export function postgresStatements(tableName: string, schema: string | undefined): PostgresStatements {
  const table = schema === undefined ? `"${tableName}"` : `"${schema}"."${tableName}"`;
  const byKeys = "WHERE instance_id = $1 AND workflow_id = $2";
  return {
    table,
    // Truncated as Postgres would truncate it, so that the lookup finds what was created.
    migrate: migrateStatement(table, schema, `${tableName.slice(0, 53)}_claimable`),
    insert:
      `INSERT INTO ${table} (instance_id, workflow_id, revision, status, workflow_name, updated_at, data, owner, lease_expires_at, attempts) ` +
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (instance_id, workflow_id) DO NOTHING",
    update:
      `UPDATE ${table} SET revision = $3, status = $4, workflow_name = $5, updated_at = $6, data = $7, owner = $8, lease_expires_at = $9, attempts = $10 ` +
      `${byKeys} AND revision = $11`,
    select: `SELECT data, ${claimColumns} FROM ${table} ${byKeys}`,
    remove: `DELETE FROM ${table} ${byKeys}`,
    list: (filter) => listQuery(dialect, table, `instance_id, workflow_id, data, ${claimColumns}`, filter),
    claim: (request) => claimStatement(table, request),
  };
}
