import { defaultSnapshotCodec, type SnapshotCodec } from "../codec/codec.js";
import { PersistenceError, SnapshotCorruptedError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import { listedReader, type ListedReader, type ListOptions } from "../list-options.js";
import type { ClaimRequest, ProviderCapabilities, SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import { withClaimColumns, type ClaimColumns } from "../claim-columns.js";
import { claimScript, claimArguments, claimFieldsOf } from "./redis-claim.js";
import { claimReadable, releaseScript } from "./redis-claimed.js";
import { deliverEvent, receiveEvents, type RedisMailbox } from "./redis-mailbox.js";
import { canDuplicate, subscribeTo } from "./redis-push.js";
import { isWrongType, senderFor, validate, type RedisPersistenceProviderOptions, type Send } from "./redis-options.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { DeliveredEvent } from "../mailbox.js";
import { claimDeadlineMs, redisConnectionDetail, unqueuedClaim, withDeadline } from "./connection-errors.js";
import { RedisWriter } from "./redis-writes.js";
import { callToken, fetchScript, isNoScript, keysOfMember, knownShas, memberOf, shaOf, statusFilter, textOf } from "./redis-layout.js";
import { throwIfAborted, untilAborted } from "./shared.js";
import { decodeFromStorage } from "./stored.js";
import { anyInstance } from "../keys.js";

export type { IoRedisLikeClient, NodeRedisLikeClient, RedisPersistenceProviderOptions } from "./redis-options.js";

const source = "redis";
const listBatch = 200;
// What tryLoad reads: the data, the claim's fields (see claim()), and a field a hash without data has.
const loadedFields = ["data", "revision", "owner", "leaseMs", "updatedMs", "status"];

/**
 * Keeps snapshots in Redis, one hash per instance (`data`, `revision`, `status`, `workflowId`,
 * `workflowName`, `leaseMs`, `attempts`, `waitingFor`, `wakeMs`, `dueMark`) plus an index set used
 * by `list()`, a sorted set of the records `claim()` may take by when they are due (lease end, wake
 * time), one of the dead letters it set aside, and a hash of events per instance. Supports
 * compare-and-set, list, claim and the mailbox, and push when the client has `duplicate()` (ioredis
 * and node-redis clients do).
 *
 * - `save` is one round trip: a Lua script (EVALSHA, with EVAL after a NOSCRIPT reply) that
 *   compares the stored revision and replaces the record atomically, and indexes the record on an
 *   instance's first save. `tryLoad` is one HMGET, `delete` one script. Saves and deletes of other
 *   instances that arrive while one is in flight go together as one script, each with its own
 *   compare-and-set (group commit).
 * - Durability is the server's: with Redis's defaults an acknowledged save can be lost if the
 *   server itself crashes; configure `appendonly yes` / `appendfsync` for stronger guarantees.
 * - `list()` walks the index with SSCAN (never KEYS) in batches of 200; each batch is fetched
 *   and filtered by status, workflowId and workflowName on the server in one script, which also
 *   drops index members whose record has expired. Its cost grows with the number of stored
 *   snapshots, not with the server's key count.
 * - Every script is safe to run twice: one a client sends again after losing its reply with its
 *   connection (ioredis does by default) answers as its first run did (see docs/providers/redis.md).
 * - A call whose signal aborts rejects at once with its reason, though a command already sent is not
 *   cancelled: a save may still be stored, which the next compare-and-set sees. A claim waits for its script.
 * - A command unanswered after `commandTimeoutMs` (a claim: once its lease ended), or refused by a
 *   client that says it is not connected (ioredis `status`, node-redis `isReady`; a claim is not
 *   sent to one reconnecting), rejects with `PersistenceError` naming the server's address and what to check.
 */
export class RedisPersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities;
  readonly #client: unknown;
  readonly #send: (args: string[], deadlineMs?: number) => Promise<unknown>;
  readonly #timeoutMs: number;
  readonly #prefix: string;
  readonly #index: string;
  readonly #claimable: string;
  readonly #dead: string;
  readonly #codec: SnapshotCodec;
  readonly #mailbox: RedisMailbox;
  readonly #writer: RedisWriter;

  /** @throws TypeError naming the option when an option is invalid. */
  constructor(options: RedisPersistenceProviderOptions) {
    validate(options);
    this.#client = options.client;
    this.#timeoutMs = options.commandTimeoutMs ?? 10_000;
    this.#send = withDeadline(senderFor(options.client) as Send, this.#timeoutMs);
    const keyPrefix = options.keyPrefix ?? "workflowforge:";
    [this.#prefix, this.#index, this.#claimable, this.#dead] = [`${keyPrefix}s:`, `${keyPrefix}index`, `${keyPrefix}claimable`, `${keyPrefix}dead`];
    this.#codec = options.codec ?? defaultSnapshotCodec;
    const [script, command] = [this.#script.bind(this), this.#command.bind(this)];
    this.#mailbox = { codec: this.#codec, records: this.#prefix, events: `${keyPrefix}e:`, claimable: this.#claimable, channel: `${keyPrefix}due`, script, command };
    const names = { records: this.#prefix, events: this.#mailbox.events, index: this.#index, claimable: this.#claimable, dead: this.#dead };
    this.#writer = new RedisWriter({ codec: this.#codec, names, ttl: String(options.completedTtlSeconds ?? 0), script, failure: (call, keys, cause) => this.#failure(cause, call, keys) });
    this.capabilities = Object.freeze({ compareAndSet: true, list: true, claim: true, mailbox: true, push: canDuplicate(options.client) });
  }

  /**
   * @throws SnapshotConflictError when the stored revision is not `snapshot.revision - 1`. Saves and
   * deletes that arrive while one is in flight go together as one script (see RedisWriter).
   */
  async save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    // An aborted caller stops waiting: the script already sent may still be stored, or refused, unreported.
    await untilAborted(this.#writer.save(snapshot, signal), signal);
  }

  async tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot | undefined> {
    throwIfAborted(signal);
    const keys = { foundryExecutionId, workflowId };
    const reply = await untilAborted(this.#command(["HMGET", this.#prefix + memberOf(keys), ...loadedFields], "tryLoad", keys), signal).catch((error: unknown) => {
      throw isWrongType(error) ? new SnapshotCorruptedError(keys, "the record is not a hash", error) : error;
    });
    const [data, ...rest] = (Array.isArray(reply) ? reply : []) as unknown[];
    // A hash with fields but no data is no save's (list() and claim() report it too): not absent.
    if (data === null || data === undefined) {
      if (rest.every((field) => field === null || field === undefined)) return undefined;
      throw new SnapshotCorruptedError(keys, "the record has no data field");
    }
    // A claim leaves data as it was: its fields are read over it (see claim()).
    return withClaimColumns(decodeFromStorage(this.#codec, textOf(data), keys), storedClaimFields(rest, keys));
  }

  async delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await untilAborted(this.#writer.delete({ foundryExecutionId, workflowId }, signal), signal);
  }

  /** One script: stores the event unless its eventId is stored, and marks a record waiting for it due (PUBLISH). */
  deliver(event: DeliveredEvent, signal?: AbortSignal): Promise<boolean> {
    return deliverEvent(this.#mailbox, event, signal);
  }

  /** One HVALS of the instance's events, decoded through the codec. */
  receive(keys: SnapshotKeys, name: string, signal?: AbortSignal): Promise<DeliveredEvent[]> {
    return receiveEvents(this.#mailbox, keys, name, signal);
  }

  /**
   * Subscribes a connection made with the client's `duplicate()` to `<keyPrefix>due`; the returned
   * function unsubscribes and closes it. Declared (`capabilities.push`) when the client has `duplicate()`.
   */
  subscribe(listener: () => void, signal?: AbortSignal): Promise<() => Promise<void>> {
    return subscribeTo(this.#client, this.#mailbox.channel, listener, this.#timeoutMs, signal);
  }

  /**
   * Claims up to `request.limit` records in one script over the claimable set (unfinished records
   * scored by their lease's end), lowest score first. A claim writes the hash's revision, owner,
   * lease and attempts and leaves its data as it was; tryLoad reads them over the data until the
   * next save. Records saved before the claimable set existed are claimed once saved again. A claim
   * that rejects (a record it cannot read, without `onUnreadable`) gives back every record it took
   * in a second script, so it takes nothing; with `onUnreadable` it gives back and claims again without it.
   */
  async claim(request: ClaimRequest, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    signal?.throwIfAborted();
    const read = listedReader(undefined, options, "RedisPersistenceProvider");
    const args = claimArguments(request, this.#prefix, this.#claimable);
    if (args === undefined) return [];
    // Each run under a reply key of its own, which only a replay of that run finds (see claimScript).
    const unqueued = unqueuedClaim(this.#client);
    if (unqueued !== undefined) throw this.#failure(unqueued, "claim", anyInstance);
    const deadlineMs = claimDeadlineMs(this.#timeoutMs, request.leaseExpiresAt);
    const run = (skip: readonly string[]) => this.#script(claimScript, [this.#claimable, this.#dead, `${this.#claimable}:${callToken()}`], [...args, ...skip], "claim", anyInstance, deadlineMs);
    // Not the caller's signal: what was taken goes back even when the caller gave up.
    return claimReadable(run, (rest) => this.#script(releaseScript, [this.#claimable], [this.#claimable, this.#prefix, ...rest], "claim", anyInstance), request, this.#codec, read, signal);
  }

  /**
   * Snapshots matching `filter`, in no particular order. A snapshot saved during the walk may be
   * missed. A record that cannot be decoded, an index member that names no key pair, or one whose
   * record is not a hash with a `data` field (neither can be filtered, so both are reported
   * whatever the filter) rejects the call with `SnapshotCorruptedError`, or with
   * `options.onUnreadable` is handed to it and left out, and is left in place.
   */
  async list(filter: SnapshotFilter = {}, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    signal?.throwIfAborted();
    const read = listedReader(filter, options, "RedisPersistenceProvider");
    const found: WorkflowExecutionSnapshot[] = [];
    const seen = new Set<string>();
    let cursor = "0";
    do {
      signal?.throwIfAborted();
      const reply = await untilAborted(this.#command(["SSCAN", this.#index, cursor, "COUNT", String(listBatch)], "list", anyInstance), signal);
      const [next, members] = Array.isArray(reply) ? (reply as [unknown, unknown]) : [];
      if (!Array.isArray(members)) throw new PersistenceError({ source, call: "list", keys: anyInstance, detail: "unexpected SSCAN reply" });
      // SSCAN may return a member twice; a set of what was seen keeps the result free of duplicates.
      const fresh = members.map(textOf).filter((member) => !seen.has(member));
      for (const member of fresh) seen.add(member);
      const readable = fresh.flatMap((member) => {
        const keys = keysOfMember(member);
        if (keys !== undefined) return [{ member, keys }];
        read(() => {
          throw new SnapshotCorruptedError(anyInstance, `the index holds member ${JSON.stringify(member)}, which is not the JSON of a key pair`);
        });
        return [];
      });
      if (readable.length > 0) {
        signal?.throwIfAborted();
        found.push(...(await untilAborted(this.#fetch(readable, filter, read), signal)));
      }
      cursor = textOf(next);
    } while (cursor !== "0");
    return found;
  }

  async #fetch(members: { member: string; keys: SnapshotKeys }[], filter: SnapshotFilter, read: ListedReader): Promise<WorkflowExecutionSnapshot[]> {
    const optional = (value: string | undefined): string => (value === undefined ? "" : `=${value}`);
    const args = [optional(filter.workflowId), optional(filter.workflowName), statusFilter(filter.status), ...members.map(({ member }) => member)];
    const reply = await this.#script(fetchScript, [this.#index, ...members.map(({ member }) => this.#prefix + member)], args, "list", anyInstance);
    const rows = Array.isArray(reply) ? (reply as unknown[]) : [];
    const keysOf = new Map(members.map(({ member, keys }) => [member, keys]));
    const snapshots: WorkflowExecutionSnapshot[] = [];
    for (let i = 0; i + 5 < rows.length; i += 6) {
      const member = textOf(rows[i]);
      const data = rows[i + 1];
      const keys = keysOf.get(member) ?? anyInstance;
      const snapshot = read(() => {
        if (typeof data === "number") throw new SnapshotCorruptedError(keys, "the record is not a hash with a data field");
        // A claim leaves data as it was: its fields are read over it, as tryLoad does.
        return withClaimColumns(decodeFromStorage(this.#codec, textOf(data), keys), storedClaimFields(rows.slice(i + 2, i + 6), keys));
      });
      if (snapshot !== undefined) snapshots.push(snapshot);
    }
    return snapshots;
  }

  // EVALSHA first: the script's text is sent only when the server has not cached it (NOSCRIPT).
  // Not async once the script's SHA-1 is known: a save makes one promise less.
  #script(script: string, keys: string[], args: string[], call: ProviderCall, snapshotKeys: SnapshotKeys, deadlineMs?: number): Promise<unknown> {
    const sha = knownShas.get(script);
    return sha === undefined ? this.#firstScript(script, keys, args, call, snapshotKeys, deadlineMs) : this.#evalSha(sha, script, keys, args, call, snapshotKeys, deadlineMs);
  }

  // The first use of a script in this process waits for its SHA-1 (without Web Crypto: EVAL).
  async #firstScript(script: string, keys: string[], args: string[], call: ProviderCall, snapshotKeys: SnapshotKeys, deadlineMs?: number): Promise<unknown> {
    const sha = await shaOf(script);
    if (sha !== undefined) return this.#evalSha(sha, script, keys, args, call, snapshotKeys, deadlineMs);
    return this.#command(["EVAL", script, String(keys.length), ...keys, ...args], call, snapshotKeys, deadlineMs);
  }

  #evalSha(sha: string, script: string, keys: string[], args: string[], call: ProviderCall, snapshotKeys: SnapshotKeys, deadlineMs?: number): Promise<unknown> {
    let sent: Promise<unknown>;
    try {
      sent = this.#send(["EVALSHA", sha, String(keys.length), ...keys, ...args], deadlineMs);
    } catch (cause) {
      return Promise.reject(this.#failure(cause, call, snapshotKeys));
    }
    return sent.catch((error: unknown) => {
      if (!isNoScript(error)) throw this.#failure(error, call, snapshotKeys);
      return this.#command(["EVAL", script, String(keys.length), ...keys, ...args], call, snapshotKeys, deadlineMs);
    });
  }

  async #command(args: string[], call: ProviderCall, keys: SnapshotKeys, deadlineMs?: number): Promise<unknown> {
    try {
      return await this.#send(args, deadlineMs);
    } catch (cause) {
      throw this.#failure(cause, call, keys);
    }
  }

  #failure(cause: unknown, call: ProviderCall, keys: SnapshotKeys): PersistenceError {
    return new PersistenceError({ source, call, keys, cause, detail: redisConnectionDetail(this.#client, cause, this.#timeoutMs) });
  }
}

// The hash's revision is what every save compares: one that is not a number (a hand edit) would
// refuse each save as a conflict, so the record is reported unreadable, as claim() reports it.
function storedClaimFields(fields: unknown[], keys: SnapshotKeys): ClaimColumns {
  const claim = claimFieldsOf(fields);
  const { revision } = claim;
  if (typeof revision === "string" && !/^[0-9]+$/.test(revision)) throw new SnapshotCorruptedError(keys, `its revision field is ${JSON.stringify(revision)}, not a number`);
  return claim;
}
