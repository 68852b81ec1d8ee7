// The options of FilePersistenceProvider, their defaults and their checks. No node:* here.

import { describe as describeValue } from "../../../internal/validate.js";
import type { SnapshotCodec } from "../../codec/codec.js";
import { codecOption, providerOptions, type ResolvedOptions } from "../shared.js";

/** `"fsync"`: a resolved save survives power loss. `"none"`: it survives a crash of the process only. */
export type FileDurability = "fsync" | "none";

export interface FilePersistenceProviderOptions {
  /** Directory holding one file per instance, created with its parents on first use. A relative path is resolved at construction. */
  readonly directory: string;
  /**
   * `"fsync"` flushes the record and the directory to the disk before `save` and `delete` resolve.
   * `"none"` skips both: much faster, still atomic for a crash of the process, but a power loss can
   * lose the last checkpoints (and, on some file systems, leave an empty record that then loads as
   * `SnapshotCorruptedError`). @default "fsync"
   */
  readonly durability?: FileDurability | undefined;
  /**
   * How long `save` and `delete` wait for another writer's lock on the same instance before failing,
   * counted from the call (a wait behind this provider's other writers of the instance included). @default 10_000
   */
  readonly lockTimeoutMs?: number | undefined;
  /**
   * How old a lock whose owner is gone (its process exited) must be before another writer breaks
   * it. A lock of a live process is never broken, however long that process is stopped. @default 5_000
   */
  readonly staleLockMs?: number | undefined;
  /** Turns a snapshot into the text stored after the record's header line and back. @default defaultSnapshotCodec */
  readonly codec?: SnapshotCodec | undefined;
}

const where = "FilePersistenceProvider(options)";

const requireMilliseconds = (value: unknown, name: string): number => {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  throw new TypeError(`${where}: options.${name} must be a non-negative finite number, got ${describeValue(value)}`);
};

/** The options with their defaults (the directory as given: the provider resolves it). */
export type ResolvedFileOptions = ResolvedOptions<FilePersistenceProviderOptions>;

/** Checks `input` (a TypeError naming the option at fault) and fills in the defaults. */
export function resolveOptions(input: unknown): ResolvedFileOptions {
  const options = providerOptions<FilePersistenceProviderOptions>(input, where, ["directory", "durability", "lockTimeoutMs", "staleLockMs", "codec"]);
  const { directory, durability = "fsync", lockTimeoutMs = 10_000, staleLockMs = 5_000 } = options;
  if (typeof directory !== "string" || directory === "" || directory.includes("\0")) {
    throw new TypeError(`${where}: options.directory must be a non-empty path without NUL, got ${describeValue(directory)}`);
  }
  if (durability !== "fsync" && durability !== "none") throw new TypeError(`${where}: options.durability must be "fsync" or "none", got ${describeValue(durability)}`);
  const codec = codecOption(options.codec, where);
  return { directory, durability, lockTimeoutMs: requireMilliseconds(lockTimeoutMs, "lockTimeoutMs"), staleLockMs: requireMilliseconds(staleLockMs, "staleLockMs"), codec };
}
