import type { SnapshotCodec } from "../codec/codec.js";
import { withClaimColumns } from "../claim-columns.js";
import { SnapshotCorruptedError } from "../errors.js";
import { anyInstance } from "../keys.js";
import type { ListedReader } from "../list-options.js";
import type { ClaimRequest } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { keysOfMember, textOf } from "./redis-layout.js";
import { decodeFromStorage } from "./stored.js";

// What claim() on Redis makes of its script's reply. The script has leased the records before any
// is decoded; a claim that then rejects (a record it cannot read, without onUnreadable) hands its
// caller nothing, so it gives back every record it took: the reply says what each claim replaced.
// One that meets a record it cannot read with onUnreadable gives back too, and claims again without it.

/** Entries per claimed record in claimScript's reply. */
const stride = 9;

// KEYS: claimable. ARGV: the claimable key as the provider named it (see claimScript), the record key
// prefix, the claim's owner, then per record: member, claimed revision, the revision, owner,
// leaseMs, attempts and updatedMs fields it replaced ("" none, else "=" .. value), its score. A
// record saved, deleted or claimed again since holds another revision or owner, and is left alone.
export const releaseScript = `local records = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1]) .. ARGV[2]
local fields = { 'revision', 'owner', 'leaseMs', 'attempts', 'updatedMs' }
for i = 4, #ARGV, 8 do
  local key = records .. ARGV[i]
  local f = redis.pcall('HMGET', key, 'revision', 'owner')
  if not f.err and f[1] == ARGV[i + 1] and f[2] == ARGV[3] then
    for k, field in ipairs(fields) do
      local v = ARGV[i + 1 + k]
      if v == '' then redis.call('HDEL', key, field) else redis.call('HSET', key, field, string.sub(v, 2)) end
    end
    redis.call('ZADD', KEYS[1], ARGV[i + 7], ARGV[i])
  end
end
return 1`;

/** Gives back what a claim took: releaseScript's arguments after the first two. */
export type ReleaseClaims = (args: string[]) => Promise<unknown>;

/** Runs claimScript, passing over the members of `skip`: its reply. */
export type RunClaim = (skip: readonly string[]) => Promise<unknown>;

/**
 * The snapshots claimScript claims, each read through `read`. A record `read` reports through
 * `onUnreadable` must stay as it was (no lease, no attempt counted), and giving back only that one
 * would not do: the next page would claim it first again. So every record the script took is given
 * back and the claim made again passing over the unreadable ones, until a claim reads all it took;
 * each unreadable record is reported once a call. The abort signal is checked only between claims,
 * when nothing is held.
 */
export async function claimReadable(run: RunClaim, release: ReleaseClaims, request: ClaimRequest, codec: SnapshotCodec, read: ListedReader, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot[]> {
  const skip: string[] = [];
  for (;;) {
    const { claimed, unreadable } = await readClaimed(await run(skip), request, codec, read, release);
    if (unreadable.length === 0) return claimed;
    skip.push(...unreadable);
    signal?.throwIfAborted();
  }
}

/**
 * What claimScript's `reply` claimed, each read through `read`, and the members it took but could
 * not read (reported through `onUnreadable`). When reading throws, or some record was unreadable,
 * every record the script took is given back. Giving back is best effort on a rejected claim (if it
 * fails too, the records stay leased until their lease ends); otherwise its failure rejects the claim.
 */
async function readClaimed(reply: unknown, request: ClaimRequest, codec: SnapshotCodec, read: ListedReader, release: ReleaseClaims): Promise<{ claimed: WorkflowExecutionSnapshot[]; unreadable: string[] }> {
  const entries = Array.isArray(reply) ? (reply as unknown[]) : [];
  const columns = { owner: request.owner, lease_ms: Date.parse(request.leaseExpiresAt), updated_ms: Date.parse(request.now) };
  const [claimed, unreadable]: [WorkflowExecutionSnapshot[], string[]] = [[], []];
  try {
    for (let i = 0; i + stride <= entries.length; i += stride) {
      const member = textOf(entries[i]);
      const keys = keysOfMember(member) ?? anyInstance;
      const [data, third] = [entries[i + 1], textOf(entries[i + 2])];
      const snapshot = read(() => {
        // 0: a record no save wrote, with the reason; left unclaimed and out of the claimable set.
        if (typeof data === "number") throw new SnapshotCorruptedError(keys, third);
        return withClaimColumns(decodeFromStorage(codec, textOf(data), keys), { ...columns, revision: third });
      });
      if (snapshot !== undefined) claimed.push(snapshot);
      else if (typeof data !== "number") unreadable.push(member);
    }
  } catch (error) {
    await release([request.owner, ...taken(entries)]).catch(() => undefined);
    throw error;
  }
  if (unreadable.length > 0) await release([request.owner, ...taken(entries)]);
  return { claimed: unreadable.length > 0 ? [] : claimed, unreadable };
}

// releaseScript's arguments for every record the reply claimed (a reported one took nothing).
function taken(entries: unknown[]): string[] {
  const args: string[] = [];
  const field = (value: unknown): string => (value === null || value === undefined || value === false ? "" : `=${textOf(value)}`);
  for (let i = 0; i + stride <= entries.length; i += stride) {
    if (typeof entries[i + 1] === "number") continue;
    const was = entries.slice(i + 3, i + 8).map(field);
    args.push(textOf(entries[i]), textOf(entries[i + 2]), ...was, textOf(entries[i + 8]));
  }
  return args;
}
