import type { SqliteDatabase } from "./sqlite-options.js";

// Setting a database up (the switch to WAL, the tables) can meet SQLITE_BUSY at once, without
// SQLite's busy handler: switching a rollback-journal file to WAL needs the file to itself, and
// SQLite does not wait for a lock that waiting could deadlock on (another connection in a write
// transaction, another process setting the same new file up). A write waits for its lock for the
// busy timeout; the setup is retried for as long, so first use behaves as every later call does.

const retryEveryMs = 10;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Runs `setup` (idempotent), again while it fails with SQLITE_BUSY, until the busy timeout has passed since it began. */
export function setUpWhenFree(database: SqliteDatabase, setup: () => void): void {
  // From the start: a statement of the setup that met a lock SQLite could wait for has waited already.
  const started = Date.now();
  let deadline: number | undefined;
  for (;;) {
    try {
      setup();
      return;
    } catch (error) {
      if (!isBusy(error)) throw error;
      deadline ??= started + busyTimeoutMs(database);
      if (Date.now() >= deadline) throw error;
      // Synchronous, as better-sqlite3's own wait for a lock is: every call of the provider is.
      Atomics.wait(pause, 0, 0, Math.min(retryEveryMs, deadline - Date.now()));
    }
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

function busyTimeoutMs(database: SqliteDatabase): number {
  const rows = database.pragma("busy_timeout") as { timeout?: unknown }[] | undefined;
  const timeout = rows?.[0]?.timeout;
  return typeof timeout === "number" ? timeout : 0;
}
