import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { approvals, approvalTrials, pushedApproval, type PushedApprovalStores } from "../../support/approval-trials.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { startPostgres } from "../../support/postgres-server.js";
import { usePostgresPools } from "../../support/postgres-pool.js";
import { freshTable } from "./postgres-cases.js";

// Durable waits end to end on the SQL stores: runs suspend at their wait through one connection,
// approvals are sent through another, and a coordinator resumes them.

describe("Durable waits on SQLite", () => {
  it(`${approvals} approvals, each sent before, during or after its run reaches the wait, through a second connection: every event is consumed once and every run completes`, async () => {
    const directory = mkdtempSync(join(tmpdir(), "workflowforge-sqlite-waits-"));
    const [runner, sender] = [new Database(join(directory, "waits.db")), new Database(join(directory, "waits.db"))];
    try {
      await approvalTrials(new SqlitePersistenceProvider({ database: runner }), new SqlitePersistenceProvider({ database: sender }));
    } finally {
      runner.close();
      sender.close();
      rmSync(directory, { recursive: true, force: true });
    }
  }, 120_000);
});

const server = await startPostgres();

describeWithServer("Durable waits on a real PostgreSQL server", server, (started) => {
  const newPool = usePostgresPools(started, 10);

  it(`${approvals} approvals, each sent before, during or after its run reaches the wait, through another pool: every event is consumed once and every run completes`, async () => {
    const tableName = freshTable();
    await approvalTrials(new PostgresPersistenceProvider({ client: newPool(), tableName }), new PostgresPersistenceProvider({ client: newPool(), tableName }));
  }, 120_000);

  const pushStores = (): PushedApprovalStores => {
    const tableName = freshTable();
    const admin = newPool(1);
    return {
      coordinator: new PostgresPersistenceProvider({ client: newPool(), tableName }),
      runner: new PostgresPersistenceProvider({ client: newPool(), tableName }),
      sender: new PostgresPersistenceProvider({ client: newPool(), tableName }),
      listeners: async () => ((await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN %'")).rows[0] as { n: number }).n,
    };
  };

  it("a started coordinator resumes a suspended approval when another pool signals it: woken by LISTEN/NOTIFY, not by its poll", async () => {
    await pushedApproval(pushStores());
  });

  it("a signal sent after a started coordinator's first pass but before its LISTEN took effect is not left to the poll", async () => {
    await pushedApproval(pushStores(), "before-subscribed");
  });
});
