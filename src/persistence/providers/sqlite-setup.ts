import { setUpWhenFree } from "./sqlite-busy.js";
import type { SqliteDatabase } from "./sqlite-options.js";
import { requireReadableTables, type SqliteStatementTexts } from "./sqlite-sql.js";

// The setup of SqlitePersistenceProvider's database: its tables made (or upgraded) and a file
// database switched to WAL, kept once both are done, so that later calls pay nothing for it.
// Inside a transaction SQLite refuses the switch ("cannot change into wal mode from within a
// transaction"), or, once the transaction wrote, answers with the mode it keeps; and a rollback
// takes back tables made in it. So inside a transaction the application holds on the connection,
// the tables are made in that transaction and the switch waits for the first call outside one.

type SetupTexts = Pick<SqliteStatementTexts, "migrate" | "addedColumns" | "migrateWaits">;

/** The provider's statements (made by `prepare`), once its database is set up. */
export class SqliteSetup<S> {
  readonly #database: SqliteDatabase;
  readonly #tableName: string;
  readonly #sql: SetupTexts;
  readonly #prepare: () => S;
  // Everything done: all that a call reads once first use is over.
  #made: S | undefined;
  // Tables that are there for good, the switch to WAL still to do.
  #tables: S | undefined;
  // This provider made or changed a table inside a transaction, which may yet roll back: until a
  // call outside a transaction, each call inside one makes the tables again.
  #changedInTransaction = false;

  constructor(database: SqliteDatabase, tableName: string, sql: SetupTexts, prepare: () => S) {
    [this.#database, this.#tableName, this.#sql, this.#prepare] = [database, tableName, sql, prepare];
  }

  /** The statements, setting the database up first while that is not done. */
  get(): S {
    return this.#made ?? this.#setUp();
  }

  /** `migrate()`: the tables now, and the switch to WAL unless in a transaction (then the first call outside one switches). */
  migrate(): void {
    if (this.#database.inTransaction === true) this.#inTransaction();
    else this.#outside(true);
  }

  #setUp(): S {
    const database = this.#database;
    // A read-only connection (a backup, a read-only mount, an inspector) leaves the file as it is.
    if (database.readonly === true) {
      requireReadableTables(database, this.#tableName);
      return (this.#made = this.#prepare());
    }
    if (database.inTransaction !== true) return this.#outside(false);
    return this.#tables ?? this.#inTransaction();
  }

  // Outside a transaction: the switch to WAL (first, as it needs the file to itself), then the
  // tables, made for good. Done then, whatever mode the file answers: outside a transaction one
  // that stays in its rollback journal cannot switch (memory, a file system without shared memory),
  // and asking on every call would only cost each one a pragma.
  #outside(tablesAgain: boolean): S {
    setUpWhenFree(this.#database, () => {
      this.#database.pragma("journal_mode = WAL");
      if (tablesAgain || this.#tables === undefined) this.#makeTables();
    });
    this.#changedInTransaction = false;
    return (this.#made = this.#tables ??= this.#prepare());
  }

  // Inside the application's transaction: the tables made in it, the switch left to a later call.
  #inTransaction(): S {
    const before = this.#schemaVersion();
    setUpWhenFree(this.#database, () => this.#makeTables());
    const statements = this.#prepare();
    if (this.#schemaVersion() !== before) this.#changedInTransaction = true;
    else if (!this.#changedInTransaction) {
      // Tables this provider found as they are were there before its calls: no rollback takes them back.
      this.#tables = statements;
      // A file in WAL already (another connection switched it) needs nothing more; asking is allowed here.
      if (this.#isWal(this.#database.pragma("journal_mode"))) this.#made = statements;
    }
    return statements;
  }

  #makeTables(): void {
    const database = this.#database;
    database.exec(this.#sql.migrate);
    const columns = new Set((database.prepare(`SELECT name FROM pragma_table_info('${this.#tableName}')`).all() as { name: string }[]).map((column) => column.name));
    for (const [column, statement] of this.#sql.addedColumns) if (!columns.has(column)) this.#addColumn(statement);
    database.exec(this.#sql.migrateWaits);
  }

  // Another process upgrading the same file at once may have added it since the check: that is fine.
  #addColumn(statement: string): void {
    try {
      this.#database.exec(statement);
    } catch (error) {
      if (!(error instanceof Error && /duplicate column name/i.test(error.message))) throw error;
    }
  }

  // In WAL, or a database in memory (":memory:" answers "memory"; a temporary one, "delete"), which cannot be.
  #isWal(rows: unknown): boolean {
    const mode = (rows as readonly { journal_mode?: unknown }[] | undefined)?.[0]?.journal_mode;
    return mode === "wal" || mode === "memory" || this.#database.memory === true;
  }

  #schemaVersion(): unknown {
    return (this.#database.pragma("schema_version") as readonly { schema_version?: unknown }[] | undefined)?.[0]?.schema_version;
  }
}
