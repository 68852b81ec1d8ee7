import pg from "pg";
import * as vitest from "vitest";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { startPostgres } from "../../support/postgres-server.js";
import { corruptPostgresRow } from "./corrupt-hooks.js";
import { describePostgresCases, freshTable } from "./postgres-cases.js";
import { describePostgresGroupedCases } from "./postgres-grouped-cases.js";

// A throw-away cluster on 127.0.0.1 for this file, started while the tests are collected, so that
// missing binaries skip the file with a message saying how to enable it.
const server = await startPostgres();

describeWithServer("PostgresPersistenceProvider on a real PostgreSQL server", server, (started) => {
  const { url } = started;
  const pools: pg.Pool[] = [];
  const newPool = (max = 10): pg.Pool => {
    const pool = new pg.Pool({ connectionString: url, max });
    // An idle connection the server drops at teardown must not crash the worker.
    pool.on("error", () => undefined);
    pools.push(pool);
    return pool;
  };
  // Runs after every describe's own hooks: pools first (a pool whose idle clients lose the server
  // emits an unhandled 'error'), then the server, even when a stuck test keeps a pool from ending.
  afterAll(async () => {
    const ended = Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    await started.stop();
  });

  const shared = newPool();
  const other = newPool();
  describeProviderConformance(
    {
      name: "PostgresPersistenceProvider (pg Pool, real server)",
      create: () => new PostgresPersistenceProvider({ client: shared }),
      corrupt: (keys) => corruptPostgresRow(shared, keys),
      // A second provider object on other connections: another process, as far as the server can tell.
      reopen: () => new PostgresPersistenceProvider({ client: other }),
    },
    vitest,
  );
  describePostgresCases("a real server through a pg Pool", () => shared);
  describePostgresGroupedCases("a real server through a pg Pool", () => shared);

  describe("PostgresPersistenceProvider on a real server", () => {
    it("migrate() from 8 pools at once resolves everywhere and creates one table", async () => {
      const tableName = freshTable();
      const providers = Array.from({ length: 8 }, () => new PostgresPersistenceProvider({ client: newPool(1), tableName, schema: "public" }));
      await Promise.all(providers.map((provider) => provider.migrate()));
      const { rows } = await shared.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = $1", [tableName]);
      expect(rows).toEqual([{ n: 1 }]);
    });

    it("first use from 8 pools at once creates the schema and table once and every save lands", async () => {
      const schema = freshTable();
      const tableName = freshTable();
      const snapshots = Array.from({ length: 8 }, () => fullSnapshot());
      await Promise.all(snapshots.map((snapshot) => new PostgresPersistenceProvider({ client: newPool(1), schema, tableName }).save(snapshot)));
      const { rows } = await shared.query(`SELECT count(*)::int AS n FROM "${schema}"."${tableName}"`);
      expect(rows).toEqual([{ n: 8 }]);
    });

    it("a closed pool rejects with PersistenceError naming the call and keys, with pg's error as cause", async () => {
      const pool = newPool(1);
      const tableName = freshTable();
      await new PostgresPersistenceProvider({ client: pool, tableName }).migrate();
      await pool.end();
      const snapshot = fullSnapshot();
      const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
      // One provider whose table was created before the pool closed, one that still has to create it.
      for (const provider of [new PostgresPersistenceProvider({ client: pool, tableName }), new PostgresPersistenceProvider({ client: pool, tableName: freshTable() })]) {
        const error: unknown = await provider.save(snapshot).catch((caught: unknown) => caught);
        expect(error).toMatchObject({ name: "PersistenceError", code: "PERSISTENCE", call: "save", keys });
        expect((error as Error).message).toMatch(/^\[workflowforge:postgres\] save failed for instance ".*" \/ workflow ".*": .*Cannot use a pool after calling end on the pool/);
        expect(((error as { cause: Error }).cause).message).toBe("Cannot use a pool after calling end on the pool");
      }
    });

    it("a database that does not exist is named, with the server's address and the advice to create it", async () => {
      const pool = newPool(1);
      const missing = new pg.Pool({ connectionString: url.replace(/\/postgres$/, "/no_such_db") });
      missing.on("error", () => undefined);
      pools.push(missing);
      const error: unknown = await new PostgresPersistenceProvider({ client: missing }).tryLoad("order-1", "wf").catch((caught: unknown) => caught);
      expect(error).toMatchObject({ name: "PersistenceError", code: "PERSISTENCE", call: "tryLoad", cause: { code: "3D000" } });
      expect((error as Error).message).toBe(
        `[workflowforge:postgres] tryLoad failed for instance "order-1" / workflow "wf": PostgreSQL at 127.0.0.1:${started.port} has no database "no_such_db": ` +
          'database "no_such_db" does not exist. Create the database (CREATE DATABASE "no_such_db") or give the client one that exists',
      );
      await pool.query('CREATE DATABASE "no_such_db"');
      expect(await new PostgresPersistenceProvider({ client: missing }).tryLoad("order-1", "wf")).toBeUndefined();
    });

    it("a closed pg Client rejects with PersistenceError whose cause is pg's error", async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.end();
      const error: unknown = await new PostgresPersistenceProvider({ client, tableName: freshTable() }).delete("order-1", "wf").catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: "PERSISTENCE", call: "delete", keys: { foundryExecutionId: "order-1", workflowId: "wf" } });
      expect((error as { cause: unknown }).cause).toBeInstanceOf(Error);
    });

    it("works with a pg Client and with a PoolClient", async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const poolClient = await shared.connect();
      try {
        for (const driver of [client, poolClient]) {
          const provider = new PostgresPersistenceProvider({ client: driver, tableName: freshTable() });
          const first = fullSnapshot();
          await provider.save(first);
          const second = nextRevision(first);
          await provider.save(second);
          await expect(provider.save(nextRevision(first))).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
          expect(await provider.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(second);
          expect(await provider.list({ workflowId: first.workflowId })).toEqual([second]);
          await provider.delete(first.foundryExecutionId, first.workflowId);
          expect(await provider.tryLoad(first.foundryExecutionId, first.workflowId)).toBeUndefined();
        }
      } finally {
        poolClient.release();
        await client.end();
      }
    });

    it("a save waiting on a row lock held elsewhere fails alone once lock_timeout ends its group: the others are sent again and stored", async () => {
      const tableName = freshTable();
      const waiting = new pg.Pool({ connectionString: url, max: 4, options: "-c lock_timeout=200" });
      waiting.on("error", () => undefined);
      pools.push(waiting);
      const provider = new PostgresPersistenceProvider({ client: waiting, tableName });
      const [alone, locked, a, b] = Array.from({ length: 4 }, () => fullSnapshot());
      for (const snapshot of [alone!, locked!, a!, b!]) await provider.save(snapshot);
      const locker = await shared.connect();
      try {
        await locker.query("BEGIN");
        await locker.query(`SELECT 1 FROM "${tableName}" WHERE instance_id = $1 FOR UPDATE`, [locked!.foundryExecutionId]);
        // The first goes alone; the other three wait for it and go together, behind the lock.
        const next = [alone!, locked!, a!, b!].map((snapshot) => nextRevision(snapshot));
        const outcomes = await Promise.allSettled(next.map((snapshot) => provider.save(snapshot)));
        expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
        expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ name: "PersistenceError", keys: { foundryExecutionId: locked!.foundryExecutionId }, cause: { code: "55P03" } });
        for (const snapshot of [next[0]!, next[2]!, next[3]!]) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
        await locker.query("ROLLBACK");
        // Nothing of the refused save was stored: its revision is still free.
        await provider.save(next[1]!);
      } finally {
        // A failed assertion must not hand the pool a connection that still holds the lock.
        await locker.query("ROLLBACK").catch(() => undefined);
        locker.release();
      }
    });

    it("a save through a PoolClient in BEGIN commits with the caller's transaction, and a refused save does not abort it", async () => {
      const tableName = freshTable();
      await new PostgresPersistenceProvider({ client: shared, tableName }).migrate();
      const outside = new PostgresPersistenceProvider({ client: shared, tableName });
      const poolClient = await shared.connect();
      try {
        const inside = new PostgresPersistenceProvider({ client: poolClient, tableName });
        const first = fullSnapshot();
        await poolClient.query("BEGIN");
        await inside.save(first);
        await expect(inside.save(first)).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
        await inside.save(nextRevision(first));
        expect(await outside.tryLoad(first.foundryExecutionId, first.workflowId)).toBeUndefined();
        await poolClient.query("ROLLBACK");
        expect(await inside.tryLoad(first.foundryExecutionId, first.workflowId)).toBeUndefined();
        await poolClient.query("BEGIN");
        await inside.save(first);
        await poolClient.query("COMMIT");
        expect(await outside.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(first);
      } finally {
        poolClient.release();
      }
    });
  });
});
