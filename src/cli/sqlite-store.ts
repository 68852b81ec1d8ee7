import { resolve } from "node:path";
import { SqlitePersistenceProvider } from "../persistence/providers/sqlite.js";
import type { StoreSpec } from "./args.js";
import { busyWaitMs, isBusy, whileBusy } from "./busy.js";
import { within } from "./deadline.js";
import { requireExisting } from "./dir-store.js";
import { importDriver } from "./drivers.js";
import type { Duration } from "./duration.js";
import { CliError, describeCause } from "./errors.js";
import { construct } from "./store-parts.js";
import type { OpenedStore } from "./stores.js";

const sqliteWhenLate = "check for another process holding a write lock on the database (a long transaction)";

/**
 * The SQLite file, checked to hold the provider's table. better-sqlite3 waits for a lock
 * synchronously, holding the event loop: it is opened with a busy timeout of a few milliseconds,
 * and a call a lock refuses is tried again asynchronously until its deadline (`isBusy`).
 */
export async function openSqlite({ file, options }: Extract<StoreSpec, { kind: "sqlite" }>, timeout: Duration): Promise<OpenedStore> {
  const fileLabel = `SQLite file ${resolve(file)}`;
  await requireExisting(file, "file", fileLabel);
  const { default: Database } = await importDriver("better-sqlite3", "--sqlite");
  let database: InstanceType<typeof Database>;
  try {
    database = new Database(file, { fileMustExist: true, timeout: busyWaitMs });
  } catch (error) {
    throw new CliError("STORE", `cannot open ${fileLabel}: ${describeCause(error)}`, { cause: error });
  }
  try {
    const provider = construct("--table-name", () => new SqlitePersistenceProvider({ database, ...options }));
    const label = `${fileLabel}, table "${provider.tableName}"`;
    const present = (): boolean => database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(provider.tableName) !== undefined;
    const locked = (): string => `cannot read ${fileLabel}: it stayed locked for ${timeout.text}; ${sqliteWhenLate}, or raise --timeout`;
    const found = await within(timeout, locked, (signal) => whileBusy(present, isBusy, signal)).catch((error: unknown) => {
      if (error instanceof CliError) throw error;
      if (isBusy(error)) throw new CliError("TIMEOUT", locked(), { cause: error });
      throw new CliError("STORE", `cannot read ${fileLabel}: ${describeCause(error)}`, { cause: error });
    });
    if (!found) throw new CliError("STORE", `${fileLabel} has no table "${provider.tableName}" (pass --table-name if the provider uses another)`);
    return { provider, persistence: provider, label, close: () => Promise.resolve(void database.close()), whenLate: sqliteWhenLate, isBusy };
  } catch (error) {
    database.close();
    throw error;
  }
}
