import { rejectUnknownKeys, requireTimerMs } from "../../internal/validate.js";
import { requireCodec, type SnapshotCodec } from "../codec/codec.js";
import { PersistenceError } from "../errors.js";
import { loneSurrogate } from "./stored-keys.js";

// RedisPersistenceProvider's options, their checks and the client shapes it drives, apart from the class.

/** The part of an ioredis client (v5+) this provider uses: `call(command, ...args)`. */
export interface IoRedisLikeClient {
  call(command: string, ...args: string[]): Promise<unknown>;
  /** Makes the subscriber connection of `subscribe()`: `capabilities.push` is declared when present. */
  duplicate?(): unknown;
}

/** The part of a node-redis client (`redis` v4+) this provider uses: `sendCommand(args)`. */
export interface NodeRedisLikeClient {
  sendCommand(args: string[]): Promise<unknown>;
  /** Makes the subscriber connection of `subscribe()`: `capabilities.push` is declared when present. */
  duplicate?(): unknown;
}

export interface RedisPersistenceProviderOptions {
  /**
   * A connected client you created and close yourself: an ioredis `Redis` or a node-redis client.
   * A client with `call()` is driven as ioredis (ioredis also has a `sendCommand` of another shape);
   * otherwise `sendCommand([...])` is used. Cluster clients are not supported (untested).
   */
  readonly client: IoRedisLikeClient | NodeRedisLikeClient;
  /**
   * Prepended to every key this provider writes (`<prefix>s:<JSON of the key pair>` per snapshot,
   * `<prefix>index` for the index). Give two providers on one server different prefixes. Must be
   * well-formed UTF-16 (no lone surrogate), since Redis stores keys as UTF-8.
   * @default "workflowforge:"
   */
  readonly keyPrefix?: string | undefined;
  /**
   * When set, a snapshot saved with status `"completed"` (`onComplete: "keep"`) expires after this
   * many seconds, with its events; any other status clears the expiry. Off by default: kept
   * snapshots stay. An expired snapshot's index entry stays until the next `list()` removes it.
   */
  readonly completedTtlSeconds?: number | undefined;
  /** How snapshots become stored text. @default defaultSnapshotCodec */
  readonly codec?: SnapshotCodec | undefined;
  /**
   * How long each command may wait for its reply, in milliseconds, before the call rejects with
   * `PersistenceError` naming the server (a client stuck reconnecting would hold the run for as
   * long as it retries). The command is not withdrawn: a client that queued it may send it later.
   * A `claim()` waits until its lease ends instead, as the server may still run it in time; one
   * for a client that is reconnecting rejects at once.
   * @default 10_000
   */
  readonly commandTimeoutMs?: number | undefined;
}

export type Send = (args: string[]) => Promise<unknown>;

// Declared, documented shapes, checked once: ioredis first, because it has a sendCommand too.
export function senderFor(client: unknown): Send | undefined {
  if ((typeof client !== "object" && typeof client !== "function") || client === null) return undefined;
  const { call, sendCommand } = client as { call?: unknown; sendCommand?: unknown };
  // Not async: every caller sends inside its own try, which also catches a synchronous throw.
  if (typeof call === "function") return (args) => (call as (...a: string[]) => Promise<unknown>).apply(client, args);
  if (typeof sendCommand === "function") return (args) => (sendCommand as Send).call(client, args);
  return undefined;
}

// A record key holding a string, a list or another type answers HGET with a WRONGTYPE error.
export const isWrongType = (error: unknown): boolean => error instanceof PersistenceError && error.cause instanceof Error && error.cause.message.startsWith("WRONGTYPE");

export function validate(options: RedisPersistenceProviderOptions): void {
  if (typeof options !== "object" || options === null) throw new TypeError("RedisPersistenceProvider: options must be an object with a client");
  rejectUnknownKeys(options, ["client", "keyPrefix", "completedTtlSeconds", "codec", "commandTimeoutMs"], "RedisPersistenceProvider");
  if (senderFor(options.client) === undefined) {
    throw new TypeError("RedisPersistenceProvider: options.client must be an ioredis client (with call()) or a node-redis client (with sendCommand())");
  }
  if (options.keyPrefix !== undefined && (typeof options.keyPrefix !== "string" || options.keyPrefix === "")) {
    throw new TypeError("RedisPersistenceProvider: options.keyPrefix must be a non-empty string");
  }
  // Redis keeps keys as the client's UTF-8, which turns each lone surrogate into U+FFFD: two
  // prefixes that differ only there would share every key.
  const surrogate = options.keyPrefix === undefined ? null : loneSurrogate.exec(options.keyPrefix);
  if (surrogate !== null) {
    const unit = surrogate[0].charCodeAt(0).toString(16).toUpperCase();
    throw new TypeError(`RedisPersistenceProvider: options.keyPrefix must be well-formed UTF-16, but holds a lone surrogate (\\u${unit}) at index ${surrogate.index}, which Redis would store as U+FFFD, sharing keys with other prefixes`);
  }
  const ttl = options.completedTtlSeconds;
  if (ttl !== undefined && !(Number.isSafeInteger(ttl) && ttl > 0)) {
    throw new TypeError(`RedisPersistenceProvider: options.completedTtlSeconds must be a positive integer, got ${String(ttl)}`);
  }
  if (options.codec !== undefined) requireCodec(options.codec, "RedisPersistenceProvider: options.codec");
  if (options.commandTimeoutMs !== undefined) requireTimerMs(options.commandTimeoutMs, "RedisPersistenceProvider: options.commandTimeoutMs");
}

