import { rejectUnknownKeys, requireTimerMs } from "../../internal/validate.js";
import { requireCodec } from "../codec/codec.js";
import { PersistenceError } from "../errors.js";
import type { RedisPersistenceProviderOptions } from "./redis.js";

// RedisPersistenceProvider's option checks and the client shapes it drives, apart from the class.

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
  const ttl = options.completedTtlSeconds;
  if (ttl !== undefined && !(Number.isSafeInteger(ttl) && ttl > 0)) {
    throw new TypeError(`RedisPersistenceProvider: options.completedTtlSeconds must be a positive integer, got ${String(ttl)}`);
  }
  if (options.codec !== undefined) requireCodec(options.codec, "RedisPersistenceProvider: options.codec");
  if (options.commandTimeoutMs !== undefined) requireTimerMs(options.commandTimeoutMs, "RedisPersistenceProvider: options.commandTimeoutMs");
}

