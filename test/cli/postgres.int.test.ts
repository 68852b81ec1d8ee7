import { describe, expect, it } from "vitest";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { freshPostgresName, usePostgresPool } from "../support/postgres-pool.js";
import { startPostgres } from "../support/postgres-server.js";
import { cli, cliJson, seedSnapshots } from "./run-cli.js";
import { describeStoreCommands, type StoreFixture } from "./store-cases.js";
import { describeWaitCommands } from "./wait-cases.js";

// A throw-away cluster on 127.0.0.1, started while the tests are collected, so that missing
// binaries skip the file with a message saying how to enable it.
const server = await startPostgres();
const freshName = (): string => freshPostgresName("cli");

describeWithServer("workflowforge CLI on a real PostgreSQL server", server, (started) => {
  const pool = usePostgresPool(started);

  const freshStore = async (): Promise<StoreFixture> => {
    const tableName = freshName();
    const provider = new PostgresPersistenceProvider({ client: pool, tableName });
    await provider.migrate();
    return { args: ["--postgres", started.url, "--table-name", tableName], provider, writer: (codec) => new PostgresPersistenceProvider({ client: pool, tableName, codec }) };
  };
  describeStoreCommands("PostgreSQL (--postgres)", freshStore);
  describeWaitCommands("PostgreSQL (--postgres)", freshStore);

  describe("workflowforge CLI --postgres", () => {
    it("reads a table in the schema named by --schema", async () => {
      const schema = freshName();
      const provider = new PostgresPersistenceProvider({ client: pool, schema, tableName: "snapshots" });
      const [snapshot] = seedSnapshots();
      await provider.save(snapshot!);
      expect(await cliJson("list", "--postgres", started.url, "--schema", schema, "--table-name", "snapshots")).toMatchObject([{ instance: snapshot!.foundryExecutionId }]);
    });

    it("exits 1 naming the table when it does not exist, and creates none", async () => {
      const tableName = freshName();
      const { code, stderr } = await cli("list", "--postgres", started.url, "--table-name", tableName);
      expect(code).toBe(1);
      expect(stderr).toMatch(new RegExp(`^workflowforge: PostgreSQL postgres://postgres@127\\.0\\.0\\.1:\\d+/postgres has no table "${tableName}" \\(pass --table-name or --schema`));
      const { rows } = await pool.query("SELECT to_regclass($1) AS name", [tableName]);
      expect(rows).toEqual([{ name: null }]);
    });

    it("refuses a table an older version made, saying to migrate it, and changes nothing of it", async () => {
      const tableName = freshName();
      // The layout before durable waits: no waiting_for or wake_ms, no mailbox, no index but the key's.
      await pool.query(
        `CREATE TABLE "${tableName}" (instance_id TEXT NOT NULL, workflow_id TEXT NOT NULL, revision BIGINT NOT NULL, status TEXT NOT NULL, workflow_name TEXT NOT NULL, ` +
          `updated_at TIMESTAMPTZ, data TEXT NOT NULL, owner TEXT, lease_expires_at TIMESTAMPTZ, attempts INTEGER, PRIMARY KEY (instance_id, workflow_id))`,
      );
      const layout = async () => (await pool.query("SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0", [tableName])).rows;
      const before = await layout();
      for (const command of [["list"], ["show", "order-1", "Orders"]]) {
        const { code, stderr } = await cli(...command, "--postgres", started.url, "--table-name", tableName);
        expect(code).toBe(1);
        expect(stderr).toContain(`table "${tableName}" was made by an older version of workflowforge: upgrade it first with the provider's migrate()`);
      }
      expect(await layout()).toEqual(before);
      expect((await pool.query("SELECT to_regclass($1) AS name", [`${tableName}_mailbox`])).rows).toEqual([{ name: null }]);
    });

    it("refuses a table missing an index the provider makes (an older version's, or one dropped), and builds none", async () => {
      const tableName = freshName();
      await new PostgresPersistenceProvider({ client: pool, tableName }).migrate();
      await pool.query(`DROP INDEX "${tableName}_claim_keys"`);
      const { code, stderr } = await cli("list", "--postgres", started.url, "--table-name", tableName);
      expect(code).toBe(1);
      expect(stderr).toContain("was made by an older version of workflowforge");
      expect((await pool.query("SELECT to_regclass($1) AS name", [`${tableName}_claim_keys`])).rows).toEqual([{ name: null }]);
    });

    it("gives up on a request a lock holds back after --timeout, saying what to check, and exits 1", async () => {
      const tableName = freshName();
      const provider = new PostgresPersistenceProvider({ client: pool, tableName });
      for (const snapshot of seedSnapshots()) await provider.save(snapshot);
      // A migration, say, holding the table for itself in an open transaction.
      const holder = await pool.connect();
      try {
        await holder.query(`BEGIN; LOCK TABLE "${tableName}" IN ACCESS EXCLUSIVE MODE`);
        // Long enough to connect on a busy machine (the time limit covers connecting too); the lock
        // holds the list back for as long as the transaction lasts.
        const { code, stderr } = await cli("list", "--postgres", started.url, "--table-name", tableName, "--timeout", "3s");
        expect({ code, stderr }).toEqual({
          code: 1,
          stderr: `workflowforge: PostgreSQL ${started.url}, table "${tableName}": list did not finish within 3s; check that the server is up and answering, and that no transaction holds a lock on the table, or raise --timeout\n`,
        });
      } finally {
        await holder.query("ROLLBACK");
        holder.release();
      }
    });

    it("exits 1 with the server's message when the database does not exist", async () => {
      const url = started.url.replace(/\/postgres$/, "/no_such_database");
      const { code, stderr } = await cli("list", "--postgres", url);
      expect(code).toBe(1);
      expect(stderr).toMatch(/^workflowforge: cannot reach PostgreSQL postgres:\/\/.*\/no_such_database: database "no_such_database" does not exist\n$/);
    });
  });
});
