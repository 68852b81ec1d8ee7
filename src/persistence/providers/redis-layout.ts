import type { SnapshotKeys } from "../errors.js";
import type { SnapshotFilter } from "../provider.js";

// How RedisPersistenceProvider names its records and the Lua scripts that keep them, apart from
// the class so each file stays readable.

// JSON of the pair is injective, reversible, free of NUL bytes and always well-formed UTF-8
// (lone surrogates are escaped), so no client's string encoding can merge two key pairs.
export function memberOf(keys: SnapshotKeys): string {
  return JSON.stringify([keys.foundryExecutionId, keys.workflowId]);
}

// The keys of an index member, or undefined for a member no save wrote (not JSON, not a pair of
// strings, or another spelling of one): tryLoad and delete of any key would never reach its record.
export function keysOfMember(member: string): SnapshotKeys | undefined {
  let pair: unknown;
  try {
    pair = JSON.parse(member);
  } catch {
    return undefined;
  }
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") return undefined;
  const keys = { foundryExecutionId: pair[0], workflowId: pair[1] };
  return memberOf(keys) === member ? keys : undefined;
}

// Compare-and-set saves. Redis has no native compare-and-set before 8.4, so each is one Lua script,
// which costs the server several times a SET: a fixed cost per call, then about half a microsecond
// per argument and a few per redis.call(). So the saves that follow an instance's first one pass
// only what changes and make two calls; revisions are compared as the decimal strings they are
// stored as (a stored value no save wrote never equals one, and is reported in the refusal).
// Both return nil when written, else the stored revision ("0": none).

// KEYS: record, index, claimable, events. ARGV: data, status, workflowId, workflowName, member, ttl ("0":
// none), leaseMs ("0": none), attempts, waitingFor, wakeMs, score (see scoreOf: "" keeps the record
// out of the claimable set). Revision 1: the record must not exist. A stored record is always
// indexed (delete and list's cleanup remove both), so only a new one is added. The sets are written
// before the hash, so that one of the wrong type (junk under the provider's prefix) fails the save
// before it wrote the record; an index member it may have added is dropped by the next list().
export const createScript = `local stored = redis.call('HGET', KEYS[1], 'revision')
if stored then return stored end
redis.call('SADD', KEYS[2], ARGV[5])
if ARGV[11] ~= '' then redis.call('ZADD', KEYS[3], ARGV[11], ARGV[5]) end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'revision', '1', 'status', ARGV[2], 'workflowId', ARGV[3], 'workflowName', ARGV[4], 'leaseMs', ARGV[7], 'attempts', ARGV[8], 'waitingFor', ARGV[9], 'wakeMs', ARGV[10], 'dueMark', '')
if ARGV[6] ~= '0' and ARGV[2] == 'completed' then redis.call('EXPIRE', KEYS[1], ARGV[6]) redis.call('EXPIRE', KEYS[4], ARGV[6]) end
return false`;

// KEYS: record, claimable, events, dead letters. ARGV: revision, data, status, workflowName, expected
// (revision - 1), ttl ("0": none), leaseMs ("0": none), attempts, member, waitingFor, wakeMs, score.
// The workflow id is part of the key, so it is the stored one. Every save clears a delivery's due
// mark. A checkpoint of a running record leaves the claimable set alone (a score below the
// real lease only makes claim() look at the record and put it right); the set is updated when the
// record finishes (removed), waits (scored by its wake time, or removed when it has none), stops
// waiting, loses its lease (released: scored 0), is enqueued again, or was failed or compensating:
// such a record may be a dead letter that claim() set aside (into the dead letters' set, or, before
// that set existed, nowhere), and a save of it (a retry, a cancel, a run) puts it back. Only a
// completed record has an expiry, so a save that makes it anything else clears the expiry, whatever
// this provider's own ttl. Sets before the hash, as above.
export const updateScript = `local f = redis.call('HMGET', KEYS[1], 'revision', 'leaseMs', 'status')
if f[1] ~= ARGV[5] then return f[1] or '0' end
if ARGV[12] == '' then
  redis.call('ZREM', KEYS[2], ARGV[9])
  if f[3] == 'failed' or f[3] == 'compensating' then redis.call('ZREM', KEYS[4], ARGV[9]) end
elseif f[3] == 'failed' or f[3] == 'compensating' then
  redis.call('ZREM', KEYS[4], ARGV[9])
  redis.call('ZADD', KEYS[2], ARGV[12], ARGV[9])
elseif ARGV[3] == 'waiting' or f[3] == 'waiting' or f[3] == 'completed' or f[3] == 'cancelled' or (ARGV[7] == '0' and f[2] and f[2] ~= '0') then
  redis.call('ZADD', KEYS[2], ARGV[12], ARGV[9])
end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'revision', ARGV[1], 'status', ARGV[3], 'workflowName', ARGV[4], 'leaseMs', ARGV[7], 'attempts', ARGV[8], 'waitingFor', ARGV[10], 'wakeMs', ARGV[11], 'dueMark', '')
-- The instance's events expire with it (EXPIRE and PERSIST of a missing key do nothing).
if ARGV[3] == 'completed' then
  if ARGV[6] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[6]) redis.call('EXPIRE', KEYS[3], ARGV[6]) end
elseif f[3] == 'completed' then redis.call('PERSIST', KEYS[1]) redis.call('PERSIST', KEYS[3]) end
return false`;

// KEYS: record, index, claimable, events, dead letters. ARGV: member.
export const deleteScript = `redis.call('DEL', KEYS[1], KEYS[4])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return 1`;

// KEYS: index, records... ARGV: workflowId filter, workflowName filter, status filter, members...
// A filter is "" (any) or "=" .. value; the status filter is ",a,b,". Members whose record has
// expired or vanished leave the index here. Returns { member, data, revision, owner, leaseMs,
// updatedMs, ... }: the hash's claim fields, which a claim wrote over the data (see claim()); data
// is 0 for a record that is not a hash with a data field: one no save wrote, which the filter
// cannot judge, so it is returned to be reported rather than fail the whole batch.
export const fetchScript = `local out = {}
for i = 2, #KEYS do
  local f = redis.pcall('HMGET', KEYS[i], 'data', 'status', 'workflowId', 'workflowName', 'revision', 'owner', 'leaseMs', 'updatedMs')
  if f.err or (not f[1] and redis.call('EXISTS', KEYS[i]) == 1) then
    for _, v in ipairs({ ARGV[i + 2], 0, false, false, false, false }) do out[#out + 1] = v end
  elseif not f[1] then
    redis.call('SREM', KEYS[1], ARGV[i + 2])
  elseif (ARGV[1] == '' or ARGV[1] == '=' .. (f[3] or '')) and (ARGV[2] == '' or ARGV[2] == '=' .. (f[4] or ''))
    and (ARGV[3] == '' or string.find(ARGV[3], ',' .. (f[2] or '') .. ',', 1, true)) then
    for _, v in ipairs({ ARGV[i + 2], f[1], f[5], f[6], f[7], f[8] }) do out[#out + 1] = v end
  end
end
return out`;

/** fetchScript's status filter: "" for any, else ",a,b,". */
export function statusFilter(status: SnapshotFilter["status"]): string {
  if (status === undefined) return "";
  return `,${(typeof status === "string" ? [status] : status).join(",")},`;
}

/** A reply as text: node-redis returns Buffers for strings when the client's typeMapping asks for them. */
export function textOf(reply: unknown): string {
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return new TextDecoder().decode(reply);
  throw new TypeError(`unexpected reply ${typeof reply}`);
}

// SHA-1 through Web Crypto (a global in Node 20+, Deno and Bun), so EVALSHA needs no node:crypto.
// Kept once known, so a save does not wait for a resolved promise.
const shas = new Map<string, Promise<string | undefined>>();
export const knownShas = new Map<string, string>();
export function shaOf(script: string): Promise<string | undefined> {
  let sha = shas.get(script);
  if (sha === undefined) {
    const digest = globalThis.crypto?.subtle?.digest("SHA-1", new TextEncoder().encode(script));
    sha = digest === undefined ? Promise.resolve(undefined) : digest.then((bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join(""), () => undefined);
    void sha.then((hex) => hex !== undefined && knownShas.set(script, hex));
    shas.set(script, sha);
  }
  return sha;
}

export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}
