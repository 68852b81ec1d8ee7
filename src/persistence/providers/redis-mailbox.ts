import type { SnapshotCodec } from "../codec/codec.js";
import { SnapshotCorruptedError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import { eventKeys, type DeliveredEvent } from "../mailbox.js";
import { callToken, memberOf, textOf } from "./redis-layout.js";
import { isWrongType } from "./redis-options.js";
import { requireEvent, throwIfAborted, untilAborted } from "./shared.js";
import { decodePayload, encodePayload } from "./stored.js";

// The mailbox on Redis: one hash of events per instance at <keyPrefix>e:<member>. A field is the
// JSON of an eventId (JSON keeps lone surrogates apart, which a client's UTF-8 would merge); its
// value is "<sequence> <JSON of [name, eventId, sentAt, token]>\n<the codec's text of the payload>"
// (events stored before the token have none). The sequence is the hash's length before the event was
// added: events leave only all together (delete), so it grows with every event and orders them as
// they were first delivered. The token is the delivering call's (see callToken).

// KEYS: events, record, claimable. ARGV: field, value (without its sequence), the JSON of the
// event's name, member, channel. One script, so first write wins between any number of processes,
// and a waiting save of the record lands wholly before or after it: a record found waiting for the
// name is marked due (the mark is in the hash, where claim() checks it, and the next save clears
// it), scored -inf (due for any claimant's clock) and announced on the channel. The record is read
// before anything is written: one that is not a hash is left alone rather than fail the delivery
// halfway. An event stored with this very value, token included, was stored by this call: a client
// sent the script again after losing its reply (see redis-layout), and it is answered as stored.
// Events delivered to a record that expires (a completed one kept for completedTtlSeconds) expire
// with it. Returns 0 for a duplicate, 1 when stored, 2 when stored and marked.
export const deliverScript = `local was = redis.call('HGET', KEYS[1], ARGV[1])
if was then
  local space = string.find(was, ' ', 1, true)
  if space and #was - space == #ARGV[2] and string.sub(was, space + 1) == ARGV[2] then return 1 end
  return 0
end
local f = redis.pcall('HMGET', KEYS[2], 'status', 'waitingFor')
redis.call('HSET', KEYS[1], ARGV[1], redis.call('HLEN', KEYS[1]) .. ' ' .. ARGV[2])
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
if f.err or f[1] ~= 'waiting' or f[2] ~= ARGV[3] then return 1 end
redis.call('HSET', KEYS[2], 'dueMark', '1')
redis.call('ZADD', KEYS[3], '-inf', ARGV[4])
redis.call('PUBLISH', ARGV[5], '')
return 2`;

/** What the mailbox functions need of the provider: its keys, codec and script runner. */
export interface RedisMailbox {
  readonly codec: SnapshotCodec;
  /** `<keyPrefix>s:`, `<keyPrefix>e:`, `<keyPrefix>claimable`, `<keyPrefix>due`. */
  readonly records: string;
  readonly events: string;
  readonly claimable: string;
  readonly channel: string;
  script(script: string, keys: string[], args: string[], call: ProviderCall, snapshotKeys: SnapshotKeys): Promise<unknown>;
  command(args: string[], call: ProviderCall, keys: SnapshotKeys): Promise<unknown>;
}

/** The provider's `deliver`: one script (see deliverScript). Resolves false for an eventId already stored by another call. */
export async function deliverEvent(mailbox: RedisMailbox, event: DeliveredEvent, signal?: AbortSignal): Promise<boolean> {
  throwIfAborted(signal);
  requireEvent(event, "RedisPersistenceProvider.deliver");
  const keys = eventKeys(event);
  const member = memberOf(keys);
  const value = `${JSON.stringify([event.name, event.eventId, event.sentAt, callToken()])}\n${encodePayload(mailbox.codec, event)}`;
  // An aborted caller stops waiting; the script already sent may still store the event.
  const delivered = mailbox.script(
    deliverScript,
    [mailbox.events + member, mailbox.records + member, mailbox.claimable],
    [JSON.stringify(event.eventId), value, JSON.stringify(event.name), member, mailbox.channel],
    "deliver",
    keys,
  );
  const reply = await untilAborted(delivered, signal);
  return Number(reply) > 0;
}

/** The provider's `receive`: one HVALS, filtered and ordered here. */
export async function receiveEvents(mailbox: RedisMailbox, keys: SnapshotKeys, name: string, signal?: AbortSignal): Promise<DeliveredEvent[]> {
  throwIfAborted(signal);
  const reply = await untilAborted(mailbox.command(["HVALS", mailbox.events + memberOf(keys)], "receive", keys), signal).catch((error: unknown) => {
    throw isWrongType(error) ? new SnapshotCorruptedError(keys, "the events key is not a hash", error) : error;
  });
  const found: { sequence: number; event: DeliveredEvent }[] = [];
  for (const value of Array.isArray(reply) ? (reply as unknown[]) : []) {
    const stored = parseEvent(textOf(value), keys);
    if (stored.name === name) found.push({ sequence: stored.sequence, event: { ...keys, name, eventId: stored.eventId, sentAt: stored.sentAt, payload: decodePayload(mailbox.codec, stored.payload, keys) } });
  }
  return found.sort((a, b) => a.sequence - b.sequence).map(({ event }) => event);
}

interface StoredEvent {
  readonly sequence: number;
  readonly name: string;
  readonly eventId: string;
  readonly sentAt: string;
  readonly payload: string;
}

function parseEvent(value: string, keys: SnapshotKeys): StoredEvent {
  const space = value.indexOf(" ");
  const newline = value.indexOf("\n");
  let meta: unknown;
  try {
    meta = space > 0 && newline > space ? JSON.parse(value.slice(space + 1, newline)) : undefined;
  } catch {
    meta = undefined;
  }
  const sequence = Number(value.slice(0, space));
  if (!Number.isSafeInteger(sequence) || !Array.isArray(meta) || (meta.length !== 3 && meta.length !== 4) || !meta.every((part) => typeof part === "string")) {
    throw new SnapshotCorruptedError(keys, `an event in the mailbox is not "<sequence> <JSON of [name, eventId, sentAt, token]>\\n<payload>": ${JSON.stringify(value.slice(0, 80))}`);
  }
  const [name, eventId, sentAt] = meta as [string, string, string];
  return { sequence, name, eventId, sentAt, payload: value.slice(newline + 1) };
}
