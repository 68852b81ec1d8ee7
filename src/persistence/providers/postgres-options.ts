import { describe as describeValue } from "../../internal/validate.js";
import type { SnapshotCodec } from "../codec/codec.js";
import { codecOption, providerOptions, requireIdentifier } from "./shared.js";

// PostgresPersistenceProvider's client and option shapes and their checks, apart from the class.

/** What `query` resolves with: pg reports `rowCount`, PGlite `affectedRows` (and `rowCount` since 0.3). */
export interface PostgresQueryResult {
  readonly rows: readonly unknown[];
  readonly rowCount?: number | null;
  readonly affectedRows?: number;
}

/** The one method this provider calls: a `pg` Pool, Client or PoolClient, or a PGlite instance. */
export interface PostgresClient {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
}

export interface PostgresPersistenceProviderOptions {
  /**
   * A client you created and close yourself. A `pg` Pool spreads calls over its connections; a
   * Client or a PoolClient inside your own `BEGIN ... COMMIT` makes each checkpoint part of your
   * transaction (a refused save never raises an SQL error, so it does not abort that transaction).
   */
  readonly client: PostgresClient;
  /** Table holding one row per instance; must match `/^[A-Za-z_][A-Za-z0-9_]{0,62}$/` and not start with `pg_`. @default "workflowforge_snapshots" */
  readonly tableName?: string;
  /** Schema of the table, created if missing; same rules. @default the first schema of the connection's search_path */
  readonly schema?: string;
  /** Turns a snapshot into the text stored in the `data` column and back. @default defaultSnapshotCodec */
  readonly codec?: SnapshotCodec;
}

// Postgres refuses such a schema, and an unqualified such table can resolve to a system catalog
// (pg_catalog comes first on every search_path): either would fail only at first use.
const reserved = { pattern: /^pg_/, prefix: "pg_", owner: "Postgres reserves for its own objects" };
const isoUtc = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const where = "PostgresPersistenceProvider(options)";

/** The options, checked: a TypeError naming the first one that is wrong. */
export function validateOptions(input: unknown): Required<Omit<PostgresPersistenceProviderOptions, "schema">> & { schema: string | undefined } {
  const options = providerOptions<PostgresPersistenceProviderOptions>(input, where, ["client", "tableName", "schema", "codec"]);
  const { client, tableName = "workflowforge_snapshots", schema } = options;
  if (typeof client !== "object" || client === null || typeof client.query !== "function") {
    throw new TypeError(`${where}: options.client must be a pg Pool, Client or PoolClient or a PGlite instance, got ${describeValue(client)}`);
  }
  return {
    client,
    tableName: requireIdentifier(tableName, "tableName", where, reserved),
    schema: schema === undefined ? undefined : requireIdentifier(schema, "schema", where, reserved),
    codec: codecOption(options.codec, where),
  };
}

/**
 * The UTC instant of `text` for a TIMESTAMPTZ parameter (`updated_at < $n` compares instants); NULL
 * when unparseable, which no updatedBefore matches, exactly as matchesFilter treats it.
 */
export function instantOf(text: string): string | null {
  // The shape toISOString writes, which the engine uses, is already such an instant: no Date round trip.
  if (isoUtc.test(text)) return text;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
