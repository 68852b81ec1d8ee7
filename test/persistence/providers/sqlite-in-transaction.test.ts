import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { SqlitePersistenceProvider, type SqliteDatabase } from "../../../src/persistence/providers/sqlite.js";
import { deliveredEvent, fullSnapshot, nextRevision, randomKeys } from "../../../src/persistence/testing/fixtures.js";
import { useSqliteFiles } from "../../support/sqlite-files.js";

// The provider's first use inside a transaction the application holds on the connection. SQLite
// refuses the switch to WAL there ("cannot change into wal mode from within a transaction"), or,
// once the transaction wrote, answers with the mode it keeps: the provider makes its tables in the
// transaction, nests its call in it, and switches to WAL on its first call outside one.

const { open } = useSqliteFiles("sqlite-in-transaction");

const journal = (database: Database.Database): unknown => database.pragma("journal_mode", { simple: true });

function applicationDatabase(name = "app.db"): Database.Database {
  const database = open(name);
  database.exec("CREATE TABLE orders (id INTEGER)");
  return database;
}

/** `database` as the provider sees it, counting its pragmas and prepared statements; `answer` may replace a pragma's answer. */
function counted(database: Database.Database, answer: (source: string) => unknown = () => undefined) {
  const calls = { pragma: [] as string[], prepare: 0 };
  const seen: SqliteDatabase = {
    prepare: (sql) => (calls.prepare++, database.prepare(sql)),
    exec: (sql) => database.exec(sql),
    pragma: (source) => (calls.pragma.push(source), answer(source) ?? database.pragma(source)),
    get inTransaction() {
      return database.inTransaction;
    },
  };
  return { seen, calls };
}

describe("SqlitePersistenceProvider's first use inside an application's transaction", () => {
  for (const appWroteFirst of [false, true]) {
    it(`nests a delivery in the transaction and switches to WAL on the first call outside it (the application ${appWroteFirst ? "wrote" : "did not write"} first)`, async () => {
      const database = applicationDatabase();
      const provider = new SqlitePersistenceProvider({ database });
      const keys = randomKeys();
      database.exec("BEGIN");
      if (appWroteFirst) database.exec("INSERT INTO orders VALUES (1)");

      expect(await provider.deliver(deliveredEvent(keys, { eventId: "e1" }))).toBe(true);
      expect(database.inTransaction).toBe(true);
      database.exec("COMMIT");
      expect(journal(database)).toBe("delete");

      expect(await provider.deliver(deliveredEvent(keys, { eventId: "e2" }))).toBe(true);
      expect(journal(database)).toBe("wal");
      expect((await provider.receive(keys, "approved")).map((event) => event.eventId)).toEqual(["e1", "e2"]);
      expect(database.prepare("SELECT count(*) FROM orders").pluck().get()).toBe(appWroteFirst ? 1 : 0);
    });
  }

  it("makes its tables again after the application rolled back the transaction they were made in", async () => {
    const database = applicationDatabase();
    const provider = new SqlitePersistenceProvider({ database });
    const keys = randomKeys();
    for (const eventId of ["e1", "e2"]) {
      database.exec("BEGIN");
      expect(await provider.deliver(deliveredEvent(keys, { eventId }))).toBe(true);
      database.exec("ROLLBACK");
    }
    expect(database.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'workflowforge%'").all()).toEqual([]);
    database.exec("BEGIN");
    expect(await provider.deliver(deliveredEvent(keys, { eventId: "e3" }))).toBe(true);
    database.exec("COMMIT");
    const snapshot = fullSnapshot(keys);
    await provider.save(snapshot);
    expect(journal(database)).toBe("wal");
    expect(await provider.tryLoad(keys.foundryExecutionId, keys.workflowId)).toEqual(snapshot);
    expect((await provider.receive(keys, "approved")).map((event) => event.eventId)).toEqual(["e3"]);
  });

  it("migrate() inside a transaction makes the tables in it and leaves the switch to WAL to the first call outside one", async () => {
    const database = applicationDatabase();
    const provider = new SqlitePersistenceProvider({ database });
    database.exec("BEGIN");
    await provider.migrate();
    database.exec("INSERT INTO orders VALUES (1)");
    database.exec("COMMIT");
    expect(database.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'workflowforge_snapshots'").pluck().get()).toBe(1);
    expect(journal(database)).toBe("delete");
    await provider.tryLoad("order-42", "wf");
    expect(journal(database)).toBe("wal");
    // Outside a transaction migrate() switches by itself, as it did.
    const other = applicationDatabase("other.db");
    await new SqlitePersistenceProvider({ database: other }).migrate();
    expect(journal(other)).toBe("wal");
  });

  it("sets up once inside transactions, whether its tables were there or not: later calls in one make nothing, the first outside one only switches", async () => {
    for (const migrated of [true, false]) {
      const file = applicationDatabase(`app-${migrated}.db`);
      if (migrated) await new SqlitePersistenceProvider({ database: file }).migrate();
      const { seen, calls } = counted(file);
      const provider = new SqlitePersistenceProvider({ database: seen });
      const snapshot = fullSnapshot();
      file.exec("BEGIN");
      await provider.save(snapshot);
      file.exec("COMMIT");
      const [pragmas, prepared] = [calls.pragma.length, calls.prepare];
      const { foundryExecutionId, workflowId } = snapshot;
      for (const eventId of ["in-1", "in-2"]) {
        file.exec("BEGIN");
        expect(await provider.deliver(deliveredEvent({ foundryExecutionId, workflowId }, { eventId }))).toBe(true);
        file.exec("COMMIT");
      }
      expect([calls.pragma.length - pragmas, calls.prepare - prepared]).toEqual([0, 0]);
      await provider.save(nextRevision(snapshot));
      await provider.save(nextRevision(nextRevision(snapshot)));
      expect([calls.pragma.length - pragmas, calls.prepare - prepared]).toEqual([1, 0]);
      expect(journal(file)).toBe("wal");
    }
  });

  it("sets up again when a rollback took back the tables another provider object made in the same transaction", async () => {
    for (const wal of [false, true]) {
      const database = applicationDatabase(`two-${wal}.db`);
      if (wal) database.pragma("journal_mode = WAL");
      const [first, second] = [new SqlitePersistenceProvider({ database }), new SqlitePersistenceProvider({ database })];
      const keys = randomKeys();
      database.exec("BEGIN");
      expect(await first.deliver(deliveredEvent(keys, { eventId: "e1" }))).toBe(true);
      expect(await second.deliver(deliveredEvent(keys, { eventId: "e2" }))).toBe(true);
      database.exec("ROLLBACK");
      expect(await second.deliver(deliveredEvent(keys, { eventId: "e3" }))).toBe(true);
      const snapshot = fullSnapshot(keys);
      await second.save(snapshot);
      expect(await second.tryLoad(keys.foundryExecutionId, keys.workflowId)).toEqual(snapshot);
      expect((await first.receive(keys, "approved")).map((event) => event.eventId)).toEqual(["e3"]);
      expect(journal(database)).toBe("wal");
    }
  });

  it("runs a whole call again when one of its statements finds a table gone, never a statement of it twice", async () => {
    const database = applicationDatabase();
    const provider = new SqlitePersistenceProvider({ database, tableName: "wf" });
    const keys = randomKeys();
    await provider.save(fullSnapshot(keys));
    // The events table stays: the delivery's first statement succeeds, its second finds "wf" gone.
    database.exec("DROP TABLE wf");
    expect(await provider.deliver(deliveredEvent(keys, { eventId: "e1" }))).toBe(true);
    expect(database.prepare("SELECT count(*) FROM wf_mailbox").pluck().get()).toBe(1);
    expect(database.inTransaction).toBe(false);
    expect(await provider.deliver(deliveredEvent(keys, { eventId: "e1" }))).toBe(false);
  });

  it("sets up again when a save finds its table gone, and saves", async () => {
    const database = applicationDatabase();
    const [first, second] = [new SqlitePersistenceProvider({ database }), new SqlitePersistenceProvider({ database })];
    database.exec("BEGIN");
    await first.migrate();
    await second.tryLoad("order-42", "wf");
    database.exec("ROLLBACK");
    const snapshot = fullSnapshot();
    await second.save(snapshot);
    expect(await first.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
  });
});

describe("SqlitePersistenceProvider's switch to WAL", () => {
  it("takes SQLite's answer outside a transaction as final: a file that stays in its rollback journal is not asked on every call", async () => {
    const database = applicationDatabase();
    // The switch answers with the mode the file keeps, as SQLite does where WAL cannot be used.
    const { seen, calls } = counted(database, (source) => (source === "journal_mode = WAL" ? [{ journal_mode: "delete" }] : undefined));
    const provider = new SqlitePersistenceProvider({ database: seen });
    const snapshot = fullSnapshot();
    await provider.save(snapshot);
    const [pragmas, prepared] = [calls.pragma.length, calls.prepare];
    await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId);
    await provider.save(nextRevision(snapshot));
    expect([calls.pragma.length - pragmas, calls.prepare - prepared]).toEqual([0, 0]);
  });

  it("a database in memory, which cannot be in WAL, is set up once, inside a transaction or not", async () => {
    // A temporary database ("") answers "delete", as a file left in its rollback journal does.
    for (const database of [open(":memory:"), new Database("")]) {
      const { seen, calls } = counted(database);
      const provider = new SqlitePersistenceProvider({ database: seen });
      database.exec("BEGIN");
      await provider.tryLoad("order-42", "wf");
      database.exec("COMMIT");
      await provider.tryLoad("order-42", "wf");
      const [pragmas, prepared] = [calls.pragma.length, calls.prepare];
      await provider.save(fullSnapshot());
      expect([calls.pragma.length - pragmas, calls.prepare - prepared]).toEqual([0, 0]);
      database.close();
    }
  });
});
