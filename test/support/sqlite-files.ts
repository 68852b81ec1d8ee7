import { isAbsolute, join } from "node:path";
import Database from "better-sqlite3";
import { useTempDirectory } from "./temp-directory.js";

/** SQLite databases in a folder of the running test; see {@link useSqliteFiles}. */
export interface SqliteFiles {
  /** The test's folder. */
  readonly directory: string;
  /** Opens `name` in {@link directory} (an absolute path and `":memory:"` as they are); closed after the test if still open. */
  readonly open: (name?: string, options?: Database.Options) => Database.Database;
}

/** A fresh folder per test for SQLite database files, and every database opened there closed after it. */
export function useSqliteFiles(label: string): SqliteFiles {
  const opened: Database.Database[] = [];
  const folder = useTempDirectory(label, () => {
    for (const database of opened.splice(0)) if (database.open) database.close();
  });
  return {
    get directory() {
      return folder.path;
    },
    open: (name = "snapshots.db", options) => {
      const database = new Database(name === ":memory:" || isAbsolute(name) ? name : join(folder.path, name), options);
      opened.push(database);
      return database;
    },
  };
}
