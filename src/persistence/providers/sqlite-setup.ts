import { setUpWhenFree } from "./sqlite-busy.js";
import type { SqliteDatabase } from "./sqlite-options.js";
import { requireReadableTables, type SqliteStatementTexts } from "./sqlite-sql.js";

// The setup of SqlitePersistenceProvider's database: its tables made (or upgraded) and a file
// database switched to WAL, kept once done, so that later calls pay nothing for it.
// Inside a transaction SQLite refuses the switch ("cannot change into wal mode from within a
// transaction"), or, once the transaction wrote, answers with the mode it keeps. So inside a
// transaction the application holds on the connection, the tables are made in that transaction
// and the switch waits for the first call outside one. A rollback may take those tables back (or
// ones another provider object made in it): a statement that finds its table gone sets up again.

type SetupTexts = Pick<SqliteStatementTexts, "migrate" | "addedColumns" | "migrateWaits">;

/** The provider's statements (made by `prepare`), once its database is set up. */
export class SqliteSetup<S> {
  readonly #database: SqliteDatabase;
  readonly #tableName: string;
  readonly #sql: SetupTexts;
  readonly #prepare: () => S;
  // Everything done: all that a call reads once first use is over.
  #made: S | undefined;
  // The tables made inside a transaction, the switch to WAL still to do.
  #tables: S | undefined;

  constructor(database: SqliteDatabase, tableName: string, sql: SetupTexts, prepare: () => S) {
    [this.#database, this.#tableName, this.#sql, this.#prepare] = [database, tableName, sql, prepare];
  }

  /** The statements, setting the database up first while that is not done. */
  get(): S {
    return this.#made ?? this.#setUp();
  }

  /**
   * True when `error` is SQLite's "no such table" for a table the setup makes: it is then
   * forgotten, so that the caller may run its statement once more, after setting up again.
   */
  forgetIfGone(error: unknown): boolean {
    if (this.#database.readonly === true || !(error instanceof Error) || !error.message.startsWith("no such table: ") || !error.message.includes(this.#tableName)) return false;
    [this.#made, this.#tables] = [undefined, undefined];
    return true;
  }

  /** `migrate()`: the tables now, and the switch to WAL unless in a transaction (then the first call outside one switches). */
  migrate(): void {
    if (this.#database.inTransaction !== true) {
      this.#outside(true);
      return;
    }
    setUpWhenFree(this.#database, () => this.#makeTables());
    this.#tables = this.#prepare();
  }

  #setUp(): S {
    const database = this.#database;
    // A read-only connection (a backup, a read-only mount, an inspector) leaves the file as it is.
    if (database.readonly === true) {
      requireReadableTables(database, this.#tableName);
      return (this.#made = this.#prepare());
    }
    if (database.inTransaction !== true) return this.#outside(false);
    if (this.#tables !== undefined) return this.#tables;
    setUpWhenFree(database, () => this.#makeTables());
    return (this.#tables = this.#prepare());
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
    return (this.#made = this.#tables ??= this.#prepare());
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
}
