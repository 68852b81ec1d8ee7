import { resolve } from "node:path";
import { SqlitePersistenceProvider } from "../persistence/providers/sqlite.js";
import { hasTable, missingTables } from "../persistence/providers/sqlite-sql.js";
import type { StoreSpec } from "./args.js";
import { busyWaitMs, isBusy, whileBusy } from "./busy.js";
import { within } from "./deadline.js";
import { requireExisting } from "./dir-store.js";
import { importDriver } from "./drivers.js";
import type { Duration } from "./duration.js";
import { CliError, describeCause } from "./errors.js";
import { refuseLeavingWalFiles } from "./sqlite-wal-files.js";
import { construct } from "./store-parts.js";
import type { OpenedStore } from "./stores.js";

const sqliteWhenLate = "check for another process holding a write lock on the database (a long transaction)";

/**
 * The SQLite file, checked to hold the provider's table. better-sqlite3 waits for a lock
 * synchronously, holding the event loop: it is opened with a busy timeout of a few milliseconds,
 * and a call a lock refuses is tried again asynchronously until its deadline (`isBusy`). For a
 * command that only reads, the file is opened read-only, so that it is left exactly as it was
 * (no WAL switch, no upgrade of an older version's tables) and a file it may not write is read.
 */
export async function openSqlite({ file, options }: Extract<StoreSpec, { kind: "sqlite" }>, timeout: Duration, readOnly: boolean): Promise<OpenedStore> {
  const fileLabel = `SQLite file ${resolve(file)}`;
  await requireExisting(file, "file", fileLabel);
  if (readOnly) await refuseLeavingWalFiles(file, fileLabel);
  const { default: Database } = await importDriver("better-sqlite3", "--sqlite");
  let database: InstanceType<typeof Database>;
  try {
    database = new Database(file, { fileMustExist: true, timeout: busyWaitMs, readonly: readOnly });
  } catch (error) {
    throw new CliError("STORE", `cannot open ${fileLabel}: ${describeCause(error)}`, { cause: error });
  }
  try {
    const provider = construct("--table-name", () => new SqlitePersistenceProvider({ database, ...options }));
    const label = `${fileLabel}, table "${provider.tableName}"`;
    const present = (): boolean => hasTable(database, provider.tableName);
    const locked = (): string => `cannot read ${fileLabel}: it stayed locked for ${timeout.text}; ${sqliteWhenLate}, or raise --timeout`;
    const found = await within(timeout, locked, (signal) => whileBusy(present, isBusy, signal)).catch((error: unknown) => {
      if (error instanceof CliError) throw error;
      if (isBusy(error)) throw new CliError("TIMEOUT", locked(), { cause: error });
      throw new CliError("STORE", `cannot read ${fileLabel}: ${describeCause(error)}${readOnly ? readOnlyAdvice(error) : ""}`, { cause: error });
    });
    if (!found) throw new CliError("STORE", `${fileLabel} has no table "${provider.tableName}" (pass --table-name if the provider uses another)`);
    // Tables an older version made lack the events table, which a command that writes (or the application) adds.
    if (readOnly && missingTables(database, provider.tableName).length > 0) throw new CliError("STORE", `${label} was made by an older version and is read only as this version made it: run the application, or a command that writes, once to upgrade it`);
    return { provider, persistence: provider, label, close: () => Promise.resolve(void database.close()), whenLate: sqliteWhenLate, isBusy };
  } catch (error) {
    database.close();
    throw error;
  }
}

// What a read-only open cannot do that a writable one would have done by itself.
function readOnlyAdvice(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === "SQLITE_READONLY_ROLLBACK" || code === "SQLITE_READONLY_RECOVERY") {
    return " (a write was interrupted, and only a connection that may write can roll it back or recover the file: run the application, or a command that writes, once)";
  }
  if (code === "SQLITE_CANTOPEN" || code === "SQLITE_READONLY_DIRECTORY" || code === "SQLITE_READONLY_CANTINIT") return " (read-only, a WAL database needs its -shm file, or a directory where SQLite may create it)";
  return "";
}
