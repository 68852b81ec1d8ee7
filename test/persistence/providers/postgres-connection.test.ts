import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { PersistenceError } from "../../../src/persistence/index.js";
import { PostgresPersistenceProvider, type PostgresClient } from "../../../src/persistence/providers/postgres.js";
import { fullSnapshot } from "../../../src/persistence/testing/fixtures.js";
import { deadPort } from "../../support/ports.js";

// A Postgres client that cannot connect: the error names the server's address and database (read
// from the client's own configuration, never its password) and says what to check.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});


function pool(config: pg.PoolConfig): pg.Pool {
  const created = new pg.Pool(config);
  created.on("error", () => undefined);
  cleanups.push(() => created.end());
  return created;
}

/** A client whose DDL succeeds and whose every other statement rejects with `error`; `fields` mimic a pg Pool or Client. */
function failingClient(error: Error, fields: object = {}): PostgresClient {
  return { ...fields, query: (text) => (text.startsWith("DO ") ? Promise.resolve({ rows: [], rowCount: 0 }) : Promise.reject(error)) };
}

const failureOf = (promise: Promise<unknown>): Promise<PersistenceError> =>
  promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error as PersistenceError,
  );

const keysText = 'instance "order-42" / workflow "wf"';

describe("PostgresPersistenceProvider with a server it cannot reach", () => {
  it("names the address, database and user from a pg Pool's connection string and asks whether the server is running", async () => {
    const port = await deadPort();
    const client = pool({ connectionString: `postgres://app:s3cret@127.0.0.1:${port}/orders` });
    const error = await failureOf(new PostgresPersistenceProvider({ client }).tryLoad("order-42", "wf"));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error).toMatchObject({ code: "PERSISTENCE", call: "tryLoad", cause: { code: "ECONNREFUSED" } });
    expect(error.message).toBe(
      `[workflowforge:postgres] tryLoad failed for ${keysText}: cannot reach PostgreSQL at 127.0.0.1:${port} (database "orders", user "app"): ` +
        `connect ECONNREFUSED 127.0.0.1:${port}. Is the server running and reachable at 127.0.0.1:${port}?`,
    );
  });

  it("reads a pg Pool's host, port and database options, and never prints the password", async () => {
    const port = await deadPort();
    const client = pool({ host: "127.0.0.1", port, database: "orders", password: "s3cret" });
    const error = await failureOf(new PostgresPersistenceProvider({ client }).save(fullSnapshot()));
    expect(error.message).toMatch(new RegExp(`^\\[workflowforge:postgres\\] save failed for .*: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} \\(database "orders"\\): .*ECONNREFUSED`));
    expect(error.message).not.toMatch(/s3cret|creating table/);
  });

  it("counts a connect that outlives the pool's connectionTimeoutMillis as unreachable", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket)).listen(0, "127.0.0.1");
    await once(silent, "listening");
    cleanups.push(() => new Promise((resolve) => (sockets.forEach((socket) => socket.destroy()), silent.close(resolve))));
    const { port } = silent.address() as { port: number };
    const client = pool({ host: "127.0.0.1", port, database: "orders", connectionTimeoutMillis: 50 });
    const error = await failureOf(new PostgresPersistenceProvider({ client }).tryLoad("order-42", "wf"));
    expect(error.message).toBe(
      `[workflowforge:postgres] tryLoad failed for ${keysText}: cannot reach PostgreSQL at 127.0.0.1:${port} (database "orders"): ` +
        `Connection terminated due to connection timeout. Is the server running and reachable at 127.0.0.1:${port}?`,
    );
  });

  it("names a host that does not resolve, from a connection string without a port", async () => {
    const notFound = Object.assign(new Error("getaddrinfo ENOTFOUND db.internal"), { code: "ENOTFOUND", hostname: "db.internal" });
    const client = failingClient(notFound, { options: { connectionString: "postgres://app:s3cret@db.internal/orders" } });
    const error = await failureOf(new PostgresPersistenceProvider({ client }).delete("order-42", "wf"));
    expect(error.message).toBe(
      `[workflowforge:postgres] delete failed for ${keysText}: cannot reach PostgreSQL at db.internal (database "orders", user "app"): ` +
        "getaddrinfo ENOTFOUND db.internal. Is the server running and reachable at db.internal?",
    );
    expect(error.cause).toBe(notFound);
  });
});

describe("PostgresPersistenceProvider with a login or database the server refuses", () => {
  // What pg's Client keeps after parsing its configuration.
  const parameters = { connectionParameters: { host: "db.internal", port: 5433, database: "orders", user: "app", password: "s3cret" } };

  it("says to check the user and password when authentication fails (28P01)", async () => {
    const refused = Object.assign(new Error('password authentication failed for user "app"'), { code: "28P01", severity: "FATAL" });
    const error = await failureOf(new PostgresPersistenceProvider({ client: failingClient(refused, parameters) }).tryLoad("order-42", "wf"));
    expect(error).toMatchObject({ name: "PersistenceError", code: "PERSISTENCE", cause: refused });
    expect(error.message).toBe(
      `[workflowforge:postgres] tryLoad failed for ${keysText}: PostgreSQL at db.internal:5433 refused the login of user "app": ` +
        'password authentication failed for user "app". Check the user and password the client was given',
    );
  });

  it("also points at pg_hba.conf when the server refuses the connection itself (28000)", async () => {
    const refused = Object.assign(new Error('no pg_hba.conf entry for host "10.0.0.9", user "app", database "orders", no encryption'), { code: "28000" });
    const error = await failureOf(new PostgresPersistenceProvider({ client: failingClient(refused, parameters) }).tryLoad("order-42", "wf"));
    expect(error.message).toMatch(/: PostgreSQL at db\.internal:5433 refused the login of user "app": no pg_hba\.conf entry .*\. Check the user and password the client was given, and that pg_hba\.conf lets that user connect from this host$/);
  });

  it("says to create the database when it does not exist (3D000)", async () => {
    const missing = Object.assign(new Error('database "orders" does not exist'), { code: "3D000" });
    const error = await failureOf(new PostgresPersistenceProvider({ client: failingClient(missing, parameters) }).save(fullSnapshot()));
    expect(error.message).toMatch(/: PostgreSQL at db\.internal:5433 has no database "orders": database "orders" does not exist\. Create the database \(CREATE DATABASE "orders"\) or give the client one that exists$/);
  });

  it("names a Unix socket as pg connects to it", async () => {
    const missing = Object.assign(new Error('database "orders" does not exist'), { code: "3D000" });
    const client = failingClient(missing, { connectionParameters: { host: "/var/run/postgresql", port: 5432, database: "orders" } });
    const error = await failureOf(new PostgresPersistenceProvider({ client }).save(fullSnapshot()));
    expect(error.message).toContain(": PostgreSQL at socket /var/run/postgresql/.s.PGSQL.5432 has no database \"orders\"");
  });

  it("says so even when the failure comes while creating the table, and keeps other table-creation failures as they were", async () => {
    const missing = Object.assign(new Error('database "orders" does not exist'), { code: "3D000" });
    const everything: PostgresClient = { ...parameters, query: () => Promise.reject(missing) };
    const error = await failureOf(new PostgresPersistenceProvider({ client: everything }).save(fullSnapshot()));
    expect(error.message).toMatch(/: PostgreSQL at db\.internal:5433 has no database "orders": /);
    const denied = Object.assign(new Error("permission denied for schema public"), { code: "42501" });
    const other = await failureOf(new PostgresPersistenceProvider({ client: { ...parameters, query: () => Promise.reject(denied) } }).save(fullSnapshot()));
    expect(other.message).toMatch(/: creating table "workflowforge_snapshots" failed: permission denied for schema public$/);
  });
});
