import { readdir, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { FilePersistenceProvider } from "../persistence/providers/file/index.js";
import { classifyEntry } from "../persistence/providers/file/names.js";
import { within } from "./deadline.js";
import type { Duration } from "./duration.js";
import { CliError, describeCause } from "./errors.js";
import type { OpenedStore } from "./stores.js";

/** Throws a `STORE` CliError unless `path` exists and is a `kind`. */
export async function requireExisting(path: string, kind: "file" | "directory", label: string): Promise<void> {
  const info = await stat(path).catch((error: unknown) => {
    const missing = (error as { code?: unknown }).code === "ENOENT";
    throw new CliError("STORE", `${label} ${missing ? "does not exist" : `cannot be read: ${describeCause(error)}`}`, { cause: error });
  });
  if (kind === "directory" ? !info.isDirectory() : !info.isFile()) throw new CliError("STORE", `${label} is not a ${kind}`);
}

/**
 * The directory's entries that are not the provider's own (a record, an instance's lock, a lock
 * breaker's `.break`, a writer's temporary file), sorted: none of them is ever listed.
 */
export async function entriesNotRecords(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((name) => classifyEntry(name) === undefined).sort();
}

export async function openDirectory(path: string, timeout: Duration): Promise<OpenedStore> {
  const label = `directory ${resolve(path)}`;
  // Bounded as well: a directory on a network mount that stopped answering would hang the stat.
  await within(timeout, () => `${label} did not answer within ${timeout.text}; check that its file system is mounted and answers, or raise --timeout`, () => requireExisting(path, "directory", label));
  // The provider's own wait for a lock runs past the CLI's, which aborts it and says what to check.
  const provider = new FilePersistenceProvider({ directory: path, lockTimeoutMs: 2 * timeout.ms });
  return {
    provider,
    persistence: provider,
    label,
    close: () => Promise.resolve(),
    whenLate: "check that its file system answers and that no other process holds the record's lock",
    foreignEntries: () => entriesNotRecords(path),
  };
}
