import { describe as describeValue, requireOptionalBoolean } from "../../internal/validate.js";
import type { SnapshotCodec } from "../codec/codec.js";
import { derivedSuffixes } from "./postgres-sql.js";
import { codecOption, providerOptions, refuseDerivedName, requireIdentifier } from "./shared.js";

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

/** pg's query config for a named statement: parsed once per connection, then only bound and executed. */
export interface PostgresQueryConfig {
  readonly name: string;
  readonly text: string;
  readonly values: unknown[];
}

/** A client that also takes pg's query config (`{ name, text, values }`): a `pg` Pool, Client or PoolClient. */
export interface PostgresPreparingClient extends PostgresClient {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  query(config: PostgresQueryConfig): Promise<PostgresQueryResult>;
}

/** The options but the client and how statements are sent. */
interface PostgresTableOptions {
  /** Table holding one row per instance; must match `/^[A-Za-z_][A-Za-z0-9_]{0,62}$/` and not start with `pg_`. @default "workflowforge_snapshots" */
  readonly tableName?: string | undefined;
  /** Schema of the table, created if missing; same rules. @default the first schema of the connection's search_path */
  readonly schema?: string | undefined;
  /** Turns a snapshot into the text stored in the `data` column and back. @default defaultSnapshotCodec */
  readonly codec?: SnapshotCodec | undefined;
}

/**
 * The client, and whether the statements of every save, tryLoad, delete, deliver and receive go as
 * named prepared statements.
 */
export type PostgresPersistenceProviderOptions = PostgresTableOptions &
  (
    | {
        /**
         * A client you created and close yourself. A `pg` Pool spreads calls over its connections; a
         * Client or a PoolClient inside your own `BEGIN ... COMMIT` makes each checkpoint part of your
         * transaction (a refused save never raises an SQL error, so it does not abort that transaction).
         */
        readonly client: PostgresClient;
        /** Statements are sent as text each time (parsed and planned by the server on every call). @default false */
        readonly preparedStatements?: false | undefined;
      }
    | {
        /** A `pg` Pool, Client or PoolClient (PGlite does not take a query config). */
        readonly client: PostgresPreparingClient;
        /**
         * Sends the statements of save, tryLoad, delete, deliver and receive as named prepared
         * statements (pg's `{ name, text, values }`): each connection parses and plans them once and
         * then only binds and executes them, which saves the client and the server much of a
         * checkpoint's cost. A claim is still sent as text, planned with its values. Needs
         * connections that keep their prepared statements between calls: not PgBouncer in
         * transaction or statement mode before 1.21 (from 1.21 with `max_prepared_statements` set),
         * and not PGlite. A table dropped and recreated with other columns under a running provider
         * makes its statements fail until the connections are renewed. @default false
         */
        readonly preparedStatements: true;
      }
  );

// Postgres refuses such a schema, and an unqualified such table can resolve to a system catalog
// (pg_catalog comes first on every search_path): either would fail only at first use.
const reserved = { pattern: /^pg_/, prefix: "pg_", owner: "Postgres reserves for its own objects" };
const isoUtc = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const where = "PostgresPersistenceProvider(options)";

/** The options, checked: a TypeError naming the first one that is wrong. */
export function validateOptions(input: unknown): ValidatedOptions {
  const options = providerOptions<PostgresPersistenceProviderOptions>(input, where, ["client", "tableName", "schema", "codec", "preparedStatements"], "client");
  const { client, tableName = "workflowforge_snapshots", schema, preparedStatements = false } = options;
  if (typeof client !== "object" || client === null || typeof client.query !== "function") {
    throw new TypeError(`${where}: options.client must be a pg Pool, Client or PoolClient or a PGlite instance, got ${describeValue(client)}`);
  }
  requireOptionalBoolean(preparedStatements, `${where}: options.preparedStatements`);
  // PGlite's query takes text only: a query config would fail every call, so refuse it here.
  if (preparedStatements && typeof (client as { waitReady?: unknown }).waitReady === "object") {
    throw new TypeError(`${where}: options.preparedStatements needs a client that takes pg's query config { name, text, values }; PGlite does not`);
  }
  return {
    client,
    tableName: refuseDerivedName(requireIdentifier(tableName, "tableName", where, reserved), derivedSuffixes, where, false),
    schema: schema === undefined ? undefined : requireIdentifier(schema, "schema", where, reserved),
    codec: codecOption(options.codec, where),
    preparedStatements,
  };
}

interface ValidatedOptions {
  readonly client: PostgresClient;
  readonly tableName: string;
  readonly schema: string | undefined;
  readonly codec: SnapshotCodec;
  readonly preparedStatements: boolean;
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
