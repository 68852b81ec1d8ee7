import type { ClaimRequest } from "../provider.js";
import { claimStatement, releaseStatement, type PassedOver } from "./postgres-claim.js";
import { deliverStatement, markStatement, waitingSave } from "./postgres-mailbox-sql.js";
import { listQuery, type SqlDialect, type SqlQuery, type SqlStatementTexts } from "./sql-query.js";

// The SQL of PostgresPersistenceProvider, apart from the class so each file stays readable.

// Postgres text cannot hold NUL, and the UTF-8 wire encoding turns a lone surrogate into U+FFFD,
// so two different keys could land on one row. PGlite reads text with a TextDecoder, which drops
// a leading U+FEFF (a byte-order mark), so such a key would come back from list() as another.
// Those and the backslash (so the escape itself stays unambiguous) become \uXXXX; every other
// character is stored as is and reads as itself in SQL.
// eslint-disable-next-line no-control-regex -- NUL is exactly what has to be escaped
const unsafe = /^\uFEFF|[\\\u0000]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const escaped = /\\u([0-9a-f]{4})/g;
// A key with none of those characters anywhere (most keys) is stored as it is: one scan of a
// character class, cheaper than the replace's lookarounds at every position (two keys a checkpoint).
// eslint-disable-next-line no-control-regex -- NUL is exactly what has to be escaped
const plain = /^[^\\\u0000\uD800-\uDFFF\uFEFF]*$/;

/** The injective text form a key is stored in. */
export function encodeKey(key: string): string {
  if (plain.test(key)) return key;
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
  /** The quoted, possibly schema-qualified name of the table of delivered events. */
  readonly mailbox: string;
  /** The channel deliveries notify when they mark a record due (an unquoted, lowercase identifier). */
  readonly channel: string;
  /** One statement: stores an event unless its id is there, marks its record due, notifies. */
  readonly deliver: string;
  /** Marks a record due (and notifies) after a delivery that stored its event found no row. */
  readonly markLate: string;
  /** `insert` and `update` of a waiting row, marked due when it holds an event the wait has not consumed (see postgres-mailbox-sql). */
  readonly insertWaiting: string;
  readonly updateWaiting: string;
  /** An instance's events of one name, oldest first. */
  readonly receive: string;
  /** Gives back the rows of a claim that rejected (see postgres-claim.ts). */
  readonly release: string;
  /** As in SqlStatementTexts, passing over the rows of `excluded`. */
  claim(request: ClaimRequest, excluded?: readonly PassedOver[]): SqlQuery | undefined;
}

// What a row read back holds beside its data: a claim writes these columns and leaves the data as
// it was, so where `revision` is ahead of the data's, they are the record's claim.
const claimColumns = "revision::float8 AS revision, owner, (extract(epoch FROM lease_expires_at) * 1000)::float8 AS lease_ms, (extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms";

// Concurrent `CREATE TABLE IF NOT EXISTS` can fail with a unique violation on pg_type: both
// sessions see no table and both insert its row type. So a session that finds something missing
// takes an advisory lock, held until the DO block's implicit transaction commits, and creators take
// turns; each statement of the block reads a fresh snapshot, so the next one finds it and skips.
// The lock is taken only when something is missing: a provider used inside a caller's long
// transaction must not hold it, and a role without CREATE on the schema passes once a deploy step
// has made the tables. Each step also upgrades a table an older version made.
/** `name` quoted, and qualified by `schema` when one is given. */
const qualifiedName = (schema: string | undefined, name: string): string => (schema === undefined ? `"${name}"` : `"${schema}"."${name}"`);

interface MigrationNames {
  readonly table: string;
  readonly schema: string | undefined;
  readonly index: string;
  /** The claim index's name before it was derived like the others: one found under it counts as made. */
  readonly legacyIndex: string;
  /** The claim index's name when `index` names another table's (an older version's, cut from a longer name). */
  readonly spareIndex: string;
  readonly keys: string;
  readonly due: string;
  readonly mailbox: string;
}

function migrateStatement({ table, schema, index, legacyIndex, spareIndex, keys, due, mailbox }: MigrationNames): string {
  const qualified = (name: string): string => qualifiedName(schema, name);
  const createSchema =
    schema === undefined ? "" : `IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${schema}') THEN CREATE SCHEMA "${schema}"; END IF;`;
  const missingColumn = (column: string): string =>
    `NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('${table}') AND attname = '${column}' AND NOT attisdropped)`;
  const lock = `PERFORM pg_advisory_xact_lock(${migrationLock});`;
  return `DO $workflowforge$
BEGIN
  IF to_regclass('${table}') IS NULL THEN
    ${lock}
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
      waiting_for TEXT,
      wake_ms BIGINT,
      PRIMARY KEY (instance_id, workflow_id)
    );
  END IF;
  -- Tables made before claim(): the claim's columns, and the index its statement reads.
  IF ${missingColumn("lease_expires_at")} THEN
    ${lock}
    ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS owner TEXT, ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMPTZ, ADD COLUMN IF NOT EXISTS attempts INTEGER;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = to_regclass('${table}') AND indexrelid IN (${[...new Set([index, legacyIndex, spareIndex])].map((name) => `to_regclass('${qualified(name)}')`).join(", ")})) THEN
    ${lock}
    IF to_regclass('${qualified(index)}') IS NULL THEN CREATE INDEX IF NOT EXISTS "${index}" ON ${table} (status);
    ELSE CREATE INDEX IF NOT EXISTS "${spareIndex}" ON ${table} (status);
    END IF;
  END IF;
  -- The keys of rows a claim runs without a due time, which it reads in key order.
  IF to_regclass('${qualified(keys)}') IS NULL THEN
    ${lock}
    CREATE INDEX IF NOT EXISTS "${keys}" ON ${table} (instance_id, workflow_id) WHERE status IN ('running', 'failed', 'compensating');
  END IF;
  -- Tables made before waits: what a waiting row waits for and when it is due, the index that
  -- finds the due ones without reading the others, and the table of delivered events.
  IF ${missingColumn("wake_ms")} THEN
    ${lock}
    ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS waiting_for TEXT, ADD COLUMN IF NOT EXISTS wake_ms BIGINT;
  END IF;
  IF to_regclass('${qualified(due)}') IS NULL THEN
    ${lock}
    CREATE INDEX IF NOT EXISTS "${due}" ON ${table} (wake_ms) WHERE status = 'waiting';
  END IF;
  IF to_regclass('${qualified(mailbox)}') IS NULL THEN
    ${lock}
    CREATE TABLE IF NOT EXISTS ${qualified(mailbox)} (
      instance_id TEXT NOT NULL,
      workflow_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      name TEXT NOT NULL,
      payload TEXT NOT NULL,
      sent_at TEXT NOT NULL,
      seq BIGINT GENERATED ALWAYS AS IDENTITY,
      PRIMARY KEY (instance_id, workflow_id, event_id)
    );
  END IF;
END
$workflowforge$`;
}

const dialect: SqlDialect = {
  param: (values, value) => `$${values.push(value)}`,
  storedText: (text) => encodeKey(text),
};

/**
 * The channel deliveries notify on, one per table: a plain lowercase identifier (PGlite's unlisten
 * writes it unquoted), cut to 63 bytes with a hash of the whole name when longer. Two tables whose
 * names differ only in case share it, which costs their listeners a look, nothing more.
 */
export function dueChannel(tableName: string, schema: string | undefined): string {
  const name = `wf_due_${schema === undefined ? "" : `${schema}_`}${tableName}`.toLowerCase();
  return name.length <= 63 ? name : `${name.slice(0, 54)}_${hashName(name)}`;
}

/** FNV-1a of `text`, 8 hex digits: keeps names cut to Postgres's 63 bytes apart, and names statements. */
export function hashName(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/**
 * What the provider names after its table, by the suffix it appends, and what each names. Tables
 * and indexes share a schema's names: a table name ending in one would be another provider's
 * mailbox or index, which `IF NOT EXISTS` would take as made. The options refuse it.
 */
export const derivedSuffixes = {
  _mailbox: "the events table",
  _claimable: "the index of claims by status",
  _claim_keys: "the index of claims by key",
  _due: "the index of due waiting rows",
} as const;

/** A name derived from the table's, with `suffix`, within Postgres's 63 bytes. */
const derived = (tableName: string, suffix: keyof typeof derivedSuffixes): string => (tableName.length + suffix.length <= 63 ? tableName + suffix : `${tableName.slice(0, 54 - suffix.length)}_${hashName(tableName)}${suffix}`);

/** What the migration makes beside the table, by name (unqualified). */
function setupNames(tableName: string): Omit<MigrationNames, "table" | "schema"> {
  // Older versions cut a long table's name to 53 characters for the claim index, so that two long
  // names sharing those got one index between them: a table that has one under that name keeps it,
  // and one whose own name another table's index took gets the spare name, hashed as long names are.
  const claimIndexes = { index: derived(tableName, "_claimable"), legacyIndex: `${tableName.slice(0, 53)}_claimable`, spareIndex: `${tableName.slice(0, 44)}_${hashName(tableName)}_claimable` };
  return { ...claimIndexes, keys: derived(tableName, "_claim_keys"), due: derived(tableName, "_due"), mailbox: derived(tableName, "_mailbox") };
}

/**
 * A query of one row: `present`, whether the table exists, and `current`, whether it holds all the
 * migration makes (its columns, indexes and mailbox), so that a reader can tell a table an older
 * version made, which its first statement would upgrade, without changing it.
 */
export function layoutQuery(tableName: string, schema: string | undefined): { readonly text: string; readonly values: string[] } {
  const qualified = (name: string): string => qualifiedName(schema, name);
  const { index, legacyIndex, spareIndex, keys, due, mailbox } = setupNames(tableName);
  const onTable = (names: string): string => `EXISTS (SELECT 1 FROM pg_index WHERE indrelid = to_regclass($1) AND indexrelid IN (${names}))`;
  const text =
    "SELECT to_regclass($1) IS NOT NULL AS present, to_regclass($2) IS NOT NULL AND (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) " +
    `AND attname IN ('owner', 'lease_expires_at', 'attempts', 'waiting_for', 'wake_ms') AND NOT attisdropped) = 5 ` +
    `AND ${onTable("to_regclass($3), to_regclass($4), to_regclass($5)")} AND ${onTable("to_regclass($6)")} AND ${onTable("to_regclass($7)")} AS current`;
  return { text, values: [tableName, mailbox, index, legacyIndex, spareIndex, keys, due].map(qualified) };
}

/** Every statement for one table; names were validated as identifiers before they get here. */
export function postgresStatements(tableName: string, schema: string | undefined): PostgresStatements {
  const qualified = (name: string): string => qualifiedName(schema, name);
  const table = qualified(tableName);
  const mailbox = qualified(derived(tableName, "_mailbox"));
  const byKeys = "WHERE instance_id = $1 AND workflow_id = $2";
  const names = setupNames(tableName);
  const insert =
    `INSERT INTO ${table} (instance_id, workflow_id, revision, status, workflow_name, updated_at, data, owner, lease_expires_at, attempts, waiting_for, wake_ms) ` +
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (instance_id, workflow_id) DO NOTHING";
  const update =
    `UPDATE ${table} SET revision = $3, status = $4, workflow_name = $5, updated_at = $6, data = $7, owner = $8, lease_expires_at = $9, attempts = $10, ` +
    `waiting_for = $11, wake_ms = $12 ${byKeys} AND revision = $13`;
  return {
    table,
    mailbox,
    channel: dueChannel(tableName, schema),
    migrate: migrateStatement({ table, schema, ...names }),
    insert,
    update,
    select: `SELECT data, ${claimColumns} FROM ${table} ${byKeys}`,
    // One statement, so that a delete never leaves an instance's events behind.
    remove: `WITH events AS (DELETE FROM ${mailbox} ${byKeys}) DELETE FROM ${table} ${byKeys}`,
    deliver: deliverStatement(table, mailbox),
    markLate: markStatement(table),
    insertWaiting: waitingSave(insert, mailbox, "$13"),
    updateWaiting: waitingSave(update, mailbox, "$14", table),
    receive: `SELECT event_id, payload, sent_at FROM ${mailbox} ${byKeys} AND name = $3 ORDER BY seq`,
    list: (filter) => listQuery(dialect, table, `instance_id, workflow_id, data, ${claimColumns}`, filter),
    claim: (request, excluded) => claimStatement(dialect, table, request, excluded),
    release: releaseStatement(table),
  };
}
