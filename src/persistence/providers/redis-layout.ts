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
// Each write is a Lua function of its keys and of its arguments at A[o + 1]..., so that a write
// sent alone and one sent in a group (see groupScript) run the same code. A save returns false
// when written, else the stored revision ("0": none).
// A client may send a script again whose reply it lost with its connection (ioredis's default
// autoResendUnfulfilledCommands), after the script ran. Each save stores its call's token (see
// callToken) as the field saveToken: one that finds its own revision stored with its own token is
// that replay, and answers written. Another writer's save of that revision is refused, even with
// the very same data: the compare-and-set is what keeps two processes from running one instance.

// held(events, name, consumed): whether the instance's mailbox (see redis-mailbox) holds an event
// of the JSON name `name` whose field (the JSON of its id) is not among `consumed` (a newline before
// and after each). A waiting save asks it: an event delivered while the run ran or saved found no
// record waiting to mark, and the run that saved may die before its re-read of the mailbox, so the
// save marks itself due, as that delivery would have. A script runs alone, so a delivery lands
// wholly before it (seen here) or after it (marking the record). Events that are not a hash mark
// nothing: the run's re-read reports them.
const held = `local function held(events, name, consumed)
  local all = redis.pcall('HGETALL', events)
  if all.err then return false end
  local prefix = '[' .. name .. ','
  for i = 1, #all, 2 do
    local value, space = all[i + 1], string.find(all[i + 1], ' ', 1, true)
    if space and string.sub(value, space + 1, space + #prefix) == prefix and not string.find(consumed, '\\n' .. all[i] .. '\\n', 1, true) then return true end
  end
  return false
end`;

// create(record, index, claimable, events, A, o). A: data, status, workflowId, workflowName,
// member, ttl ("0": none), leaseMs ("0": none), attempts, waitingFor, wakeMs, score (see scoreOf:
// "" keeps the record out of the claimable set), consumed (a waiting save's, see held; "" for any
// other save), token (the call's, see above). Revision 1: the record must not exist. A stored record is always indexed (delete
// and list's cleanup remove both), so only a new one is added.
// The sets are written before the hash, so that one of the wrong type (junk under the provider's
// prefix) fails the save before it wrote the record; an index member it may have added is dropped
// by the next list().
const create = `local function create(record, index, claimable, events, A, o)
  local stored = redis.call('HGET', record, 'revision')
  if stored then
    if stored == '1' and redis.call('HGET', record, 'saveToken') == A[o + 13] then return false end
    return stored
  end
  local score, mark = A[o + 11], ''
  if A[o + 12] ~= '' and held(events, A[o + 9], A[o + 12]) then score, mark = '-inf', '1' end
  redis.call('SADD', index, A[o + 5])
  if score ~= '' then redis.call('ZADD', claimable, score, A[o + 5]) end
  redis.call('HSET', record, 'data', A[o + 1], 'revision', '1', 'status', A[o + 2], 'workflowId', A[o + 3], 'workflowName', A[o + 4], 'leaseMs', A[o + 7], 'attempts', A[o + 8], 'waitingFor', A[o + 9], 'wakeMs', A[o + 10], 'dueMark', mark, 'saveToken', A[o + 13])
  if A[o + 6] ~= '0' and A[o + 2] == 'completed' then redis.call('EXPIRE', record, A[o + 6]) redis.call('EXPIRE', events, A[o + 6]) end
  return false
end`;

// update(record, claimable, events, dead, A, o). A: revision, data, status, workflowName, expected
// (revision - 1), ttl ("0": none), leaseMs ("0": none), attempts, member, waitingFor, wakeMs, score,
// consumed, token (as create's). The workflow id is part of the key, so it is the stored one. Every save
// clears a delivery's due mark, and a waiting save sets its own when held() finds an event. A
// checkpoint of a running record leaves the claimable set alone (a score below the real lease
// only makes claim() look at the record and put it right); the set is updated when the
// record finishes (removed), waits (scored by its wake time, or removed when it has none), stops
// waiting, loses its lease (released: scored 0), is enqueued again, or was failed or compensating:
// such a record may be a dead letter that claim() set aside (into the dead letters' set, or, before
// that set existed, nowhere), and a save of it (a retry, a cancel, a run) puts it back. Only a
// completed record has an expiry, so a save that makes it anything else clears the expiry, whatever
// this provider's own ttl. Sets before the hash, as above.
const update = `local function update(record, claimable, events, dead, A, o)
  local f = redis.call('HMGET', record, 'revision', 'leaseMs', 'status', 'saveToken')
  if f[1] ~= A[o + 5] then
    if f[1] == A[o + 1] and f[4] == A[o + 14] then return false end
    return f[1] or '0'
  end
  local score, mark = A[o + 12], ''
  if A[o + 13] ~= '' and held(events, A[o + 10], A[o + 13]) then score, mark = '-inf', '1' end
  if score == '' then
    redis.call('ZREM', claimable, A[o + 9])
    if f[3] == 'failed' or f[3] == 'compensating' then redis.call('ZREM', dead, A[o + 9]) end
  elseif f[3] == 'failed' or f[3] == 'compensating' then
    redis.call('ZREM', dead, A[o + 9])
    redis.call('ZADD', claimable, score, A[o + 9])
  elseif A[o + 3] == 'waiting' or f[3] == 'waiting' or f[3] == 'completed' or f[3] == 'cancelled' or (A[o + 7] == '0' and f[2] and f[2] ~= '0') then
    redis.call('ZADD', claimable, score, A[o + 9])
  end
  redis.call('HSET', record, 'data', A[o + 2], 'revision', A[o + 1], 'status', A[o + 3], 'workflowName', A[o + 4], 'leaseMs', A[o + 7], 'attempts', A[o + 8], 'waitingFor', A[o + 10], 'wakeMs', A[o + 11], 'dueMark', mark, 'saveToken', A[o + 14])
  -- The instance's events expire with it (EXPIRE and PERSIST of a missing key do nothing).
  if A[o + 3] == 'completed' then
    if A[o + 6] ~= '0' then redis.call('EXPIRE', record, A[o + 6]) redis.call('EXPIRE', events, A[o + 6]) end
  elseif f[3] == 'completed' then redis.call('PERSIST', record) redis.call('PERSIST', events) end
  return false
end`;

// remove(record, index, claimable, events, dead, member).
const remove = `local function remove(record, index, claimable, events, dead, member)
  redis.call('DEL', record, events)
  redis.call('SREM', index, member)
  redis.call('ZREM', claimable, member)
  redis.call('ZREM', dead, member)
  return false
end`;

/** A save of revision 1 alone. KEYS: record, index, claimable, events. ARGV: create's. Nil when written, else the stored revision. */
export const createScript = `${held}
${create}
return create(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV, 0)`;

/** A later save alone. KEYS: record, claimable, events, dead letters. ARGV: update's. Nil when written, else the stored revision. */
export const updateScript = `${held}
${update}
return update(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV, 0)`;

/** A delete alone. KEYS: record, index, claimable, events, dead letters. ARGV: member. */
export const deleteScript = `${remove}
return remove(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1])`;

/**
 * Writes of several instances, each with its own compare-and-set, in one call (group commit).
 * KEYS: index, claimable, dead letters, then each write's record and events. ARGV: each write's
 * kind ("c" create, "u" update, "d" delete) followed by its arguments. Each write runs in pcall, so
 * that one failing (a record of the wrong type) fails alone, having written nothing of its own
 * before the call that failed, as when it goes alone. Returns one string per write: "" written,
 * "r" .. the stored revision when refused, "e" .. the error.
 */
export const groupScript = `${held}
${create}
${update}
${remove}
local out, o = {}, 1
for i = 4, #KEYS, 2 do
  local record, events, kind, ok, r = KEYS[i], KEYS[i + 1], ARGV[o]
  if kind == 'c' then ok, r = pcall(create, record, KEYS[1], KEYS[2], events, ARGV, o)
  elseif kind == 'u' then ok, r = pcall(update, record, KEYS[2], events, KEYS[3], ARGV, o)
  else ok, r = pcall(remove, record, KEYS[1], KEYS[2], events, KEYS[3], ARGV[o + 1]) end
  o = o + 1 + (kind == 'c' and 13 or kind == 'u' and 14 or 1)
  if not ok then out[#out + 1] = 'e' .. (type(r) == 'table' and tostring(r.err) or tostring(r))
  elseif r then out[#out + 1] = 'r' .. r else out[#out + 1] = '' end
end
return out`;

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

// What tells a script's replay (see above) from another call that sends the same arguments: a
// token no other call carries, random per process and counted within it, so it costs no entropy
// per call. A deliver stores it with the event, a claim names its reply's key by it.
const processBytes = globalThis.crypto?.getRandomValues?.(new Uint8Array(8)) ?? Array.from({ length: 8 }, () => Math.floor(Math.random() * 256));
const processToken = [...processBytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
let calls = 0;
export function callToken(): string {
  calls += 1;
  return `${processToken}.${calls.toString(36)}`;
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
