import { describe as describeValue } from "../../internal/validate.js";
import type { SnapshotCodec } from "../codec/codec.js";
import { codecOption, providerOptions, refuseDerivedName, requireIdentifier, type ResolvedOptions } from "./shared.js";
import { derivedSuffixes } from "./sqlite-sql.js";

// SqlitePersistenceProvider's database and option shapes and their checks, apart from the class.

/** The members of a better-sqlite3 `Statement` this provider calls. */
export interface SqliteStatement {
  run(...params: unknown[]): { readonly changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** The members of a better-sqlite3 (>= 11) `Database` this provider calls; pass the `Database` itself. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(source: string): unknown;
  /** True when opened with `{ readonly: true }`: the provider then reads the tables as they are. */
  readonly readonly?: boolean;
  /** True while a transaction is open on the connection: the provider then leaves the switch to WAL to a later call. */
  readonly inTransaction?: boolean;
}

export interface SqlitePersistenceProviderOptions {
  /**
   * An open better-sqlite3 `Database` (a file or `:memory:`). The provider never closes it. One
   * opened with `{ readonly: true }` is never set up or upgraded (no WAL switch, no table made):
   * its tables must be this version's, and every write fails with the driver's error.
   */
  readonly database: SqliteDatabase;
  /**
   * Table holding one row per instance; must match `/^[A-Za-z_][A-Za-z0-9_]{0,62}$/`, not start
   * with `sqlite_` (in any case), which SQLite reserves, and not end in a suffix the provider names
   * another table's objects with (`_mailbox`, `_mailbox_delete`, `_due`, `_status_updated_at`, in
   * any case). @default "workflowforge_snapshots"
   */
  readonly tableName?: string | undefined;
  /** Turns a snapshot into the text stored in the `data` column and back. @default defaultSnapshotCodec */
  readonly codec?: SnapshotCodec | undefined;
}

// SQLite refuses to create such a table, so the mistake would otherwise surface at first use.
const reserved = { pattern: /^sqlite_/i, prefix: "sqlite_", owner: "SQLite reserves for its own tables" };
const where = "SqlitePersistenceProvider(options)";

/** The options, checked: a TypeError naming the first one that is wrong. */
export function validateOptions(input: unknown): ResolvedOptions<SqlitePersistenceProviderOptions> {
  const options = providerOptions<SqlitePersistenceProviderOptions>(input, where, ["database", "tableName", "codec"], "database");
  const { database, tableName = "workflowforge_snapshots" } = options;
  if (typeof database !== "object" || database === null || typeof database.prepare !== "function") {
    throw new TypeError(`${where}: options.database must be a better-sqlite3 Database, got ${describeValue(database)}`);
  }
  return { database, tableName: refuseDerivedName(requireIdentifier(tableName, "tableName", where, reserved), derivedSuffixes, where, true), codec: codecOption(options.codec, where) };
}
