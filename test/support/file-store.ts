import { mkdtempSync } from "node:fs";
import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotKeys } from "../../src/persistence/errors.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { FilePersistenceProvider, type FilePersistenceProviderOptions } from "../../src/persistence/providers/file/index.js";
import { useTempDirectory } from "./temp-directory.js";

/** A file provider's directory for each test of a file; see {@link useFileStore}. */
export interface FileStore {
  /** A fresh temporary folder of the running test, removed after it. */
  readonly root: string;
  /** `<root>/store`, not created beforehand: the provider creates it on first use. */
  readonly directory: string;
  /** A provider on {@link directory}, with `durability: "none"` unless `options` say otherwise. */
  readonly provider: (options?: Partial<FilePersistenceProviderOptions>) => FilePersistenceProvider;
  /** Where the record of `keys` is stored. */
  readonly recordPath: (keys: Pick<SnapshotKeys, "foundryExecutionId" | "workflowId">) => string;
  /** Where the lock of `keys` is linked while a writer holds it. */
  readonly lockPath: (keys: Pick<SnapshotKeys, "foundryExecutionId" | "workflowId">) => string;
  /** Where a writer breaking the stale lock of `keys` takes its turn. */
  readonly breakerPath: (keys: Pick<SnapshotKeys, "foundryExecutionId" | "workflowId">) => string;
}

/**
 * Gives every test of the calling file (or describe block) a fresh folder named after `label`,
 * removed after the test, and a file provider on a directory inside it. Call it at the top level
 * of the file or of a describe block: it registers a beforeEach and an afterEach there.
 */
export function useFileStore(label: string): FileStore {
  const folder = useTempDirectory(label);
  const withSuffix = (keys: Pick<SnapshotKeys, "foundryExecutionId" | "workflowId">, suffix: string): string =>
    store.recordPath(keys).replace(/\.snapshot$/, suffix);
  const store: FileStore = {
    get root() {
      return folder.path;
    },
    get directory() {
      return join(folder.path, "store");
    },
    provider: (options = {}) => new FilePersistenceProvider({ directory: store.directory, durability: "none", ...options }),
    recordPath: (keys) => join(store.directory, FilePersistenceProvider.fileNameFor(keys.foundryExecutionId, keys.workflowId)),
    lockPath: (keys) => withSuffix(keys, ".lock"),
    breakerPath: (keys) => withSuffix(keys, ".break"),
  };
  return store;
}

/** Writes `contents` at `path` as if its writer had last touched it at `modified`. */
export async function plantFile(path: string, contents: string, modified: Date): Promise<void> {
  await writeFile(path, contents);
  await utimes(path, modified, modified);
}

/**
 * A file provider on a new directory under `parent`, holding `snapshots`. Without fsync: a test
 * that seeds a store checks what reads it, not the provider's durability.
 */
export async function seededFileStore(parent: string, snapshots: Iterable<WorkflowExecutionSnapshot>): Promise<{ directory: string; provider: FilePersistenceProvider }> {
  const directory = mkdtempSync(join(parent, "store-"));
  const provider = new FilePersistenceProvider({ directory, durability: "none" });
  for (const snapshot of snapshots) await provider.save(snapshot);
  return { directory, provider };
}
