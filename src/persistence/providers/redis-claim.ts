import type { ClaimColumns } from "../claim-columns.js";
import { unfinishedStatuses, type ClaimRequest } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { statusFilter, textOf } from "./redis-layout.js";

// claim() on Redis: one script walks the claimable set (unfinished records, scored by the end of
// their lease) from the lowest score up to now, and claims what it may, so workers calling at once
// are served one after another by the server and never take one record twice.

// KEYS: claimable, dead letters, this call's reply key (see below). ARGV: now (ms), lease end (ms),
// owner, maxAttempts, limit, record key prefix, status filter (",a,b,"), workflowId filter ("" or
// the member's end, see workflowIdFilter), workflowName filter ("" or "=" .. value),
// the claimable key as the provider named it: what a client prepends to keys (ioredis's keyPrefix
// option) is in KEYS[1] only, and is prepended to the record keys built here too; then the members
// to pass over as if already looked at (records an earlier claim of the same call could not read).
// A record's real state is in its hash: one whose lease was renewed since its score was set is
// scored again and left; a waiting one that is not due (no delivery marked it, its wake time is
// still ahead) is scored by its wake time, or leaves the set when it has none, so it is out of the
// window either way; a vanished or finished one leaves the set. A dead letter (failed or
// compensating with maxAttempts attempts and no lease; one with a lease is claimed, as its last
// claimant died before writing it as one) moves to the dead letters' set, scored by its attempts:
// a claim allowing more attempts takes it back first, and a save of it (a retry, a cancel, a run)
// puts it back. A record no save wrote (not a hash, no data, no status or a revision that is not a
// number) leaves the set and is returned as { member, 0, reason, ... } to be reported, never claimed.
// Waiting records never dead-letter. A claim writes revision, owner, leaseMs, attempts and
// updatedMs and leaves data (and a due mark) as it was; a record is looked at once per call, so one
// call never claims it twice. The offset counts only records left where they stood: one the walk
// moved (claimed, rescored, removed) shifts the others, and stepping over it too would skip one.
// Returns { member, data, revision, then the revision, owner, leaseMs, attempts and updatedMs
// fields and the score the claim replaced (false: none), ... }, so that a claim which rejects can
// give back what it took (see redis-claimed.ts). Records are read by keys built here: no Redis Cluster.
// A call the server runs once its lease (ARGV[2]) has ended by the server's clock claims nothing
// (claimArrivedLate): scripts replicate by their effects from Redis 5 on, so reading TIME is allowed.
// A client may send the script again after losing its reply with its connection (see redis-layout),
// so a call that took or reported anything keeps its reply, without the data, under a key named by
// its token until its lease ends; a run that finds that key is the replay: it claims nothing and
// answers as the first run did, with the records that still hold its revision and owner, their data
// read anew.
export const claimScript = `local now, limit = tonumber(ARGV[1]), tonumber(ARGV[5])
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) >= tonumber(ARGV[2]) then return {} end
local records = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[10]) .. ARGV[6]
local out, claimed, offset, scanned, seen = {}, 0, 0, 0, {}
local kept = redis.call('GET', KEYS[3])
if kept then
  local first = cjson.decode(kept)
  for i = 1, #first, 9 do
    local f = first[i + 1] ~= 0 and redis.pcall('HMGET', records .. first[i], 'data', 'revision', 'owner')
    if f and not f.err and f[1] and f[2] == first[i + 2] and f[3] == ARGV[3] then first[i + 1] = f[1] end
    if first[i + 1] then for k = i, i + 8 do out[#out + 1] = first[k] end end
  end
  return out
end
for i = 11, #ARGV do seen[ARGV[i]] = true end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4], 'LIMIT', 0, 256)) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZADD', KEYS[1], 0, m)
end
while claimed < limit and scanned < 10000 do
  local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', offset, 64)
  if #members == 0 then break end
  for j = 1, #members, 2 do
    local m, score = members[j], members[j + 1]
    if claimed >= limit then break end
    scanned = scanned + 1
    local key = records .. m
    if seen[m] then
      offset = offset + 1
    else
      seen[m] = true
      local f = redis.pcall('HMGET', key, 'data', 'status', 'workflowId', 'workflowName', 'attempts', 'revision', 'leaseMs', 'dueMark', 'wakeMs', 'owner', 'updatedMs')
      local junk = f.err and 'the record is not a hash'
      if not junk and not f[1] and redis.call('EXISTS', key) == 1 then junk = 'the record has no data field' end
      if not junk and f[1] and not f[2] then junk = 'the record has no status field' end
      if not junk and f[1] and not tonumber(f[6] or '') then junk = 'its revision field is not a number' end
      local lease, attempts, wake = 0, 0, nil
      if not junk then lease, attempts, wake = tonumber(f[7] or '0') or 0, tonumber(f[5] or '0') or 0, tonumber(f[9] or '') end
      if junk then
        redis.call('ZREM', KEYS[1], m)
        for _, v in ipairs({ m, 0, junk, false, false, false, false, false, false }) do out[#out + 1] = v end
      elseif not f[1] or f[2] == 'completed' or f[2] == 'cancelled' then
        redis.call('ZREM', KEYS[1], m)
      elseif (f[2] == 'failed' or f[2] == 'compensating') and attempts >= tonumber(ARGV[4]) and lease == 0 then
        redis.call('ZREM', KEYS[1], m)
        redis.call('ZADD', KEYS[2], attempts, m)
      elseif lease > now then
        redis.call('ZADD', KEYS[1], lease, m)
      elseif f[2] == 'waiting' and f[8] ~= '1' and not (wake and wake <= now) then
        if wake then redis.call('ZADD', KEYS[1], f[9], m) else redis.call('ZREM', KEYS[1], m) end
      elseif string.find(ARGV[7], ',' .. f[2] .. ',', 1, true) and (ARGV[8] == '' or string.sub(m, -#ARGV[8]) == ARGV[8])
        and (ARGV[9] == '' or ARGV[9] == '=' .. (f[4] or '')) then
        local revision = tostring(tonumber(f[6]) + 1)
        redis.call('HSET', key, 'revision', revision, 'owner', ARGV[3], 'leaseMs', ARGV[2], 'attempts', tostring(attempts + 1), 'updatedMs', ARGV[1])
        redis.call('ZADD', KEYS[1], ARGV[2], m)
        for _, v in ipairs({ m, f[1], revision, f[6], f[10] or false, f[7] or false, f[5] or false, f[11] or false, score }) do out[#out + 1] = v end
        claimed = claimed + 1
        -- Its new score may move it anywhere in the window, so the offset stays: whatever now
        -- stands at it, this record or one already looked at, is passed over as seen.
      else
        offset = offset + 1
      end
    end
  end
end
if #out > 0 and tonumber(ARGV[2]) > now then
  local reply = {}
  for i = 1, #out do reply[i] = out[i] end
  for i = 2, #out, 9 do if reply[i] ~= 0 then reply[i] = false end end
  redis.call('SET', KEYS[3], cjson.encode(reply), 'PX', string.format('%d', tonumber(ARGV[2]) - now))
end
return out`;

/** claimScript's arguments for `request`, or undefined when its filter can match nothing. */
export function claimArguments(request: ClaimRequest, recordPrefix: string, claimable: string): string[] | undefined {
  const { now, leaseExpiresAt, owner, maxAttempts, limit, filter = {} } = request;
  const statuses = [filter.status ?? unfinishedStatuses].flat().filter((status) => unfinishedStatuses.includes(status));
  if (statuses.length === 0) return undefined;
  const optional = (value: string | undefined): string => (value === undefined ? "" : `=${value}`);
  const ms = (instant: string): string => String(Date.parse(instant));
  return [ms(now), ms(leaseExpiresAt), owner, String(maxAttempts), String(limit), recordPrefix, statusFilter(statuses), workflowIdFilter(filter.workflowId), optional(filter.workflowName), claimable];
}

// The workflowId filter: "" (any), else how the record's member (JSON of the key pair) ends. The
// hash's workflowId field is UTF-8 text, which merges ids that differ by a lone surrogate; the
// member's JSON escapes them, and names the record's own id as it is stored since the first save.
const workflowIdFilter = (workflowId: string | undefined): string => (workflowId === undefined ? "" : `,${JSON.stringify(workflowId)}]`);

/** The lease's end as the hash's `leaseMs` field: "0" for none. */
export function leaseMsOf(leaseExpiresAt: string | undefined): string {
  const ms = leaseExpiresAt === undefined ? Number.NaN : Date.parse(leaseExpiresAt);
  return Number.isFinite(ms) ? String(ms) : "0";
}

/** The hash's revision, owner, leaseMs and updatedMs fields (HMGET's reply) as claim columns. */
export function claimFieldsOf([revision, owner, lease, updated]: unknown[]): ClaimColumns {
  const text = (value: unknown): string | undefined => (value === null || value === undefined ? undefined : textOf(value));
  return { revision: text(revision), owner: text(owner), lease_ms: Number(text(lease)), updated_ms: Number(text(updated)) };
}

/**
 * A save's due fields: `waitingFor` (the JSON of the awaited name, "" for none: JSON keeps lone
 * surrogates apart, which UTF-8 would merge), `wakeMs` ("" for none) and the record's score in the
 * claimable set ("" for none): finished records are not in it, waiting ones are due at their wake
 * time (one waiting for an event alone joins it when a delivery marks it), the others when their
 * lease ends; and for a wait for an event, the ids its waits consumed, as the save scripts' held()
 * looks them up ("" for any other save, which looks up nothing).
 */
export function dueFieldsOf(snapshot: WorkflowExecutionSnapshot, leaseMs: string): [waitingFor: string, wakeMs: string, score: string, consumed: string] {
  const { status, waitingFor, wakeAt } = snapshot;
  if (status !== "waiting") return ["", "", status === "completed" || status === "cancelled" ? "" : leaseMs, ""];
  const wake = wakeAt === undefined ? Number.NaN : Date.parse(wakeAt);
  const wakeMs = Number.isFinite(wake) ? String(wake) : "";
  if (waitingFor === undefined) return ["", wakeMs, wakeMs, ""];
  // Each id as the JSON the mailbox's fields are, between newlines, which JSON text never holds.
  const consumed = (snapshot.consumedEvents ?? []).reduce((ids, id) => `${ids}${JSON.stringify(id)}\n`, "\n");
  return [JSON.stringify(waitingFor), wakeMs, wakeMs, consumed];
}
