import { rejectUnknownKeys } from "../../internal/validate.js";
import { defaultSnapshotCodec, type SnapshotCodec } from "../codec.js";
import { PersistenceError, SnapshotConflictError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import { listedReader, type ListedReader, type ListOptions } from "../list-options.js";
import type { ProviderCapabilities, SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { decodeFromStorage, encodeForStorage } from "./stored.js";

/** The part of an ioredis client (v5+) this provider uses: `call(command, ...args)`. */
export interface IoRedisLikeClient {
  call(command: string, ...args: string[]): Promise<unknown>;
}

/** The part of a node-redis client (`redis` v4+) this provider uses: `sendCommand(args)`. */
export interface NodeRedisLikeClient {
  sendCommand(args: string[]): Promise<unknown>;
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
   * `<prefix>index` for the index). Give two providers on one server different prefixes.
   * @default "workflowforge:"
   */
  readonly keyPrefix?: string;
  /**
   * When set, a snapshot saved with status `"completed"` (`onComplete: "keep"`) expires after this
   * many seconds; any other status clears the expiry. Off by default: kept snapshots stay. An
   * expired snapshot's index entry stays until the next `list()` removes it.
   */
  readonly completedTtlSeconds?: number;
  /** How snapshots become stored text. @default defaultSnapshotCodec */
  readonly codec?: SnapshotCodec;
}

const SOURCE = "redis";
const LIST_BATCH = 200;
// list() names no single instance; errors from it carry these placeholder keys.
const LIST_KEYS: SnapshotKeys = Object.freeze({ foundryExecutionId: "*", workflowId: "*" });

// Compare-and-set saves. Redis has no native compare-and-set before 8.4, so each is one Lua script,
// which costs the server several times a SET: a fixed cost per call, then about half a microsecond
// per argument and a few per redis.call(). So the saves that follow an instance's first one pass
// only what changes and make two calls; revisions are compared as the decimal strings they are
// stored as (a stored value no save wrote never equals one, and is reported in the refusal).
// Both return nil when written, else the stored revision ("0": none).

// KEYS: record, index. ARGV: data, status, workflowId, workflowName, member, ttl ("0": none).
// Revision 1: the record must not exist. A stored record is always indexed (delete and list's
// cleanup remove both), so only a new one is added.
const CREATE_SCRIPT = `local stored = redis.call('HGET', KEYS[1], 'revision')
if stored then return stored end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'revision', '1', 'status', ARGV[2], 'workflowId', ARGV[3], 'workflowName', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
if ARGV[6] ~= '0' and ARGV[2] == 'completed' then redis.call('EXPIRE', KEYS[1], ARGV[6]) end
return false`;

// KEYS: record. ARGV: revision, data, status, workflowName, expected (revision - 1), ttl ("0": none).
// The workflow id is part of the key, so it is the stored one.
const UPDATE_SCRIPT = `local stored = redis.call('HGET', KEYS[1], 'revision')
if stored ~= ARGV[5] then return stored or '0' end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'revision', ARGV[1], 'status', ARGV[3], 'workflowName', ARGV[4])
if ARGV[6] ~= '0' then
  if ARGV[3] == 'completed' then redis.call('EXPIRE', KEYS[1], ARGV[6]) else redis.call('PERSIST', KEYS[1]) end
end
return false`;

// KEYS: record, index. ARGV: member.
const DELETE_SCRIPT = `redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1`;

// KEYS: index, records... ARGV: workflowId filter, workflowName filter, status filter, members...
// A filter is "" (any) or "=" .. value; the status filter is ",a,b,". Members whose record has
// expired or vanished leave the index here. Returns { member, data, member, data, ... }.
const FETCH_SCRIPT = `local out = {}
for i = 2, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'data', 'status', 'workflowId', 'workflowName')
  if not f[1] then
    redis.call('SREM', KEYS[1], ARGV[i + 2])
  elseif (ARGV[1] == '' or ARGV[1] == '=' .. (f[3] or '')) and (ARGV[2] == '' or ARGV[2] == '=' .. (f[4] or ''))
    and (ARGV[3] == '' or string.find(ARGV[3], ',' .. (f[2] or '') .. ',', 1, true)) then
    out[#out + 1] = ARGV[i + 2]
    out[#out + 1] = f[1]
  end
end
return out`;

type Send = (args: string[]) => Promise<unknown>;

// Declared, documented shapes, checked once: ioredis first, because it has a sendCommand too.
function senderFor(client: unknown): Send | undefined {
  if ((typeof client !== "object" && typeof client !== "function") || client === null) return undefined;
  const { call, sendCommand } = client as { call?: unknown; sendCommand?: unknown };
  // Not async: every caller sends inside its own try, which also catches a synchronous throw.
  if (typeof call === "function") return (args) => (call as (...a: string[]) => Promise<unknown>).apply(client, args);
  if (typeof sendCommand === "function") return (args) => (sendCommand as Send).call(client, args);
  return undefined;
}

// SHA-1 through Web Crypto (a global in Node 20+, Deno and Bun), so EVALSHA needs no node:crypto.
// Kept once known, so a save does not wait for a resolved promise.
const shas = new Map<string, Promise<string | undefined>>();
const knownShas = new Map<string, string>();
function shaOf(script: string): Promise<string | undefined> {
  let sha = shas.get(script);
  if (sha === undefined) {
    const digest = globalThis.crypto?.subtle?.digest("SHA-1", new TextEncoder().encode(script));
    sha = digest === undefined ? Promise.resolve(undefined) : digest.then((bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join(""), () => undefined);
    void sha.then((hex) => hex !== undefined && knownShas.set(script, hex));
    shas.set(script, sha);
  }
  return sha;
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

// JSON of the pair is injective, reversible, free of NUL bytes and always well-formed UTF-8
// (lone surrogates are escaped), so no client's string encoding can merge two key pairs.
function memberOf(keys: SnapshotKeys): string {
  return JSON.stringify([keys.foundryExecutionId, keys.workflowId]);
}

function keysOfMember(member: string): SnapshotKeys {
  const [foundryExecutionId, workflowId] = JSON.parse(member) as [string, string];
  return { foundryExecutionId, workflowId };
}

// node-redis returns Buffers for strings when the client's typeMapping asks for them.
function textOf(reply: unknown): string {
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return new TextDecoder().decode(reply);
  throw new TypeError(`unexpected reply ${typeof reply}`);
}

function statusFilter(status: SnapshotFilter["status"]): string {
  if (status === undefined) return "";
  return `,${(typeof status === "string" ? [status] : status).join(",")},`;
}

function validate(options: RedisPersistenceProviderOptions): void {
  if (typeof options !== "object" || options === null) throw new TypeError("RedisPersistenceProvider: options must be an object with a client");
  rejectUnknownKeys(options, ["client", "keyPrefix", "completedTtlSeconds", "codec"], "RedisPersistenceProvider");
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
  const codec = options.codec;
  if (codec !== undefined && (typeof codec?.encode !== "function" || typeof codec.decode !== "function")) {
    throw new TypeError("RedisPersistenceProvider: options.codec must have encode() and decode() functions");
  }
}

/**
 * Keeps snapshots in Redis, one hash per instance (`data`, `revision`, `status`, `workflowId`,
 * `workflowName`) plus an index set used by `list()`. Supports compare-and-set and list.
 *
 * - `save` is one round trip: a Lua script (EVALSHA, with EVAL after a NOSCRIPT reply) that
 *   compares the stored revision and replaces the record atomically, and indexes the record on an
 *   instance's first save. `tryLoad` is one HGET, `delete` one script.
 * - Durability is the server's: with Redis's defaults an acknowledged save can be lost if the
 *   server itself crashes; configure `appendonly yes` / `appendfsync` for stronger guarantees.
 * - `list()` walks the index with SSCAN (never KEYS) in batches of 200; each batch is fetched
 *   and filtered by status, workflowId and workflowName on the server in one script, which also
 *   drops index members whose record has expired. Its cost grows with the number of stored
 *   snapshots, not with the server's key count.
 * - The abort signal is checked before each command; a command already sent is not cancelled.
 */
export class RedisPersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities = Object.freeze({ compareAndSet: true, list: true });
  readonly #send: Send;
  readonly #prefix: string;
  readonly #index: string;
  readonly #ttl: string;
  readonly #codec: SnapshotCodec;

  /** @throws TypeError naming the option when an option is invalid. */
  constructor(options: RedisPersistenceProviderOptions) {
    validate(options);
    this.#send = senderFor(options.client) as Send;
    this.#prefix = `${options.keyPrefix ?? "workflowforge:"}s:`;
    this.#index = `${options.keyPrefix ?? "workflowforge:"}index`;
    this.#ttl = String(options.completedTtlSeconds ?? 0);
    this.#codec = options.codec ?? defaultSnapshotCodec;
  }

  /** @throws SnapshotConflictError when the stored revision is not `snapshot.revision - 1`. */
  async save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const { foundryExecutionId, workflowId, revision, status, workflowName } = snapshot;
    const keys = { foundryExecutionId, workflowId };
    const data = encodeForStorage(this.#codec, snapshot);
    const member = memberOf(keys);
    const record = this.#prefix + member;
    const stored =
      revision === 1
        ? await this.#script(CREATE_SCRIPT, [record, this.#index], [data, status, workflowId, workflowName, member, this.#ttl], "save", keys)
        : await this.#script(UPDATE_SCRIPT, [record], [String(revision), data, status, workflowName, String(revision - 1), this.#ttl], "save", keys);
    if (stored === null || stored === undefined) return;
    throw new SnapshotConflictError({ source: SOURCE, keys, call: "save", detail: `revision ${revision} was refused: the stored revision is ${textOf(stored)}` });
  }

  async tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot | undefined> {
    signal?.throwIfAborted();
    const keys = { foundryExecutionId, workflowId };
    const reply = await this.#command(["HGET", this.#prefix + memberOf(keys), "data"], "tryLoad", keys);
    return reply === null || reply === undefined ? undefined : decodeFromStorage(this.#codec, textOf(reply), keys);
  }

  async delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const keys = { foundryExecutionId, workflowId };
    const member = memberOf(keys);
    await this.#script(DELETE_SCRIPT, [this.#prefix + member, this.#index], [member], "delete", keys);
  }

  /**
   * Snapshots matching `filter`, in no particular order. A snapshot saved during the walk may be
   * missed. A record that cannot be decoded rejects the call with `SnapshotCorruptedError`, or with
   * `options.onUnreadable` is handed to it and left out.
   */
  async list(filter: SnapshotFilter = {}, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    signal?.throwIfAborted();
    const read = listedReader(filter, options, "RedisPersistenceProvider");
    const found: WorkflowExecutionSnapshot[] = [];
    const seen = new Set<string>();
    let cursor = "0";
    do {
      signal?.throwIfAborted();
      const reply = await this.#command(["SSCAN", this.#index, cursor, "COUNT", String(LIST_BATCH)], "list", LIST_KEYS);
      const [next, members] = Array.isArray(reply) ? (reply as [unknown, unknown]) : [];
      if (!Array.isArray(members)) throw new PersistenceError({ source: SOURCE, call: "list", keys: LIST_KEYS, detail: "unexpected SSCAN reply" });
      // SSCAN may return a member twice; a set of what was seen keeps the result free of duplicates.
      const fresh = members.map(textOf).filter((member) => !seen.has(member));
      for (const member of fresh) seen.add(member);
      if (fresh.length > 0) {
        signal?.throwIfAborted();
        found.push(...(await this.#fetch(fresh, filter, read)));
      }
      cursor = textOf(next);
    } while (cursor !== "0");
    return found;
  }

  async #fetch(members: string[], filter: SnapshotFilter, read: ListedReader): Promise<WorkflowExecutionSnapshot[]> {
    const optional = (value: string | undefined): string => (value === undefined ? "" : `=${value}`);
    const args = [optional(filter.workflowId), optional(filter.workflowName), statusFilter(filter.status), ...members];
    const reply = await this.#script(FETCH_SCRIPT, [this.#index, ...members.map((member) => this.#prefix + member)], args, "list", LIST_KEYS);
    const pairs = Array.isArray(reply) ? (reply as unknown[]) : [];
    const snapshots: WorkflowExecutionSnapshot[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const snapshot = read(() => decodeFromStorage(this.#codec, textOf(pairs[i + 1]), keysOfMember(textOf(pairs[i]))));
      if (snapshot !== undefined) snapshots.push(snapshot);
    }
    return snapshots;
  }

  // EVALSHA first: the script's text is sent only when the server has not cached it (NOSCRIPT).
  // Not async once the script's SHA-1 is known: a save makes one promise less.
  #script(script: string, keys: string[], args: string[], call: ProviderCall, snapshotKeys: SnapshotKeys): Promise<unknown> {
    const sha = knownShas.get(script);
    return sha === undefined ? this.#firstScript(script, keys, args, call, snapshotKeys) : this.#evalSha(sha, script, keys, args, call, snapshotKeys);
  }

  // The first use of a script in this process waits for its SHA-1 (without Web Crypto: EVAL).
  async #firstScript(script: string, keys: string[], args: string[], call: ProviderCall, snapshotKeys: SnapshotKeys): Promise<unknown> {
    const sha = await shaOf(script);
    if (sha !== undefined) return this.#evalSha(sha, script, keys, args, call, snapshotKeys);
    return this.#command(["EVAL", script, String(keys.length), ...keys, ...args], call, snapshotKeys);
  }

  #evalSha(sha: string, script: string, keys: string[], args: string[], call: ProviderCall, snapshotKeys: SnapshotKeys): Promise<unknown> {
    let sent: Promise<unknown>;
    try {
      sent = this.#send(["EVALSHA", sha, String(keys.length), ...keys, ...args]);
    } catch (cause) {
      return Promise.reject(new PersistenceError({ source: SOURCE, call, keys: snapshotKeys, cause }));
    }
    return sent.catch((error: unknown) => {
      if (!isNoScript(error)) throw new PersistenceError({ source: SOURCE, call, keys: snapshotKeys, cause: error });
      return this.#command(["EVAL", script, String(keys.length), ...keys, ...args], call, snapshotKeys);
    });
  }

  async #command(args: string[], call: ProviderCall, keys: SnapshotKeys): Promise<unknown> {
    try {
      return await this.#send(args);
    } catch (cause) {
      throw new PersistenceError({ source: SOURCE, call, keys, cause });
    }
  }
}
