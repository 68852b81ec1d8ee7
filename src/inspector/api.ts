// The JSON API behind the page. Reads and actions go through the CLI's own commands (select for
// list, deleteCommand for delete, with its refusal of a claimed record, cancelCommand and
// signalCommand); only the retry of a dead letter writes itself, through the same bounded provider.

import { claimedHint, deleteCommand, select, type CommandContext, type Output } from "../cli/commands.js";
import { liveOwnerNote } from "../cli/stale.js";
import { cancelCommand, signalCommand } from "../cli/wait-commands.js";
import { CliError } from "../cli/errors.js";
import type { OpenStore } from "../cli/stores.js";
import { isWorkflowForgeError } from "../errors.js";
import type { SnapshotKeys } from "../persistence/errors.js";
import { isSnapshotStatus, type SnapshotStatus } from "../persistence/snapshot.js";
import { HttpError, requireNonBlank, requireString } from "./http.js";
import { pageOf, parseCursor, type PageStart } from "./paging.js";
import { retryDeadLetter } from "./retry.js";
import { detailOf, firstDeadLetters, groupDeadLetters, listStatuses, matchesSearch, matchesStatus, rowOf, type InstanceDetail, type InstanceRow, type ListStatus } from "./views.js";

/** What every API call reads: the open store and the `ui` options that shape the answers. */
export interface ApiContext {
  readonly store: OpenStore;
  readonly maxAttempts: number;
  readonly allowActions: boolean;
}

const maxLimit = 10_000;
// Keys (and the cursor holding them) are bounded by the request's size only: a store takes any.
const anyLength = Number.POSITIVE_INFINITY;

/**
 * `api` with a store whose calls share one deadline, `--timeout` from now: the request's, however
 * many calls it makes (a delete reads, claims and deletes). Its provider's calls are aborted when
 * `stop` is.
 */
export function forRequest(api: ApiContext, stop?: AbortSignal): ApiContext {
  const store = api.store.forRequest?.(stop);
  return store === undefined ? api : { ...api, store };
}

const discard: Output = { write: () => true };

function commandContext(api: ApiContext, now: number, stdout: Output = discard): CommandContext {
  return { store: api.store, stdout, stderr: discard, now, json: true };
}

// A command run for its --json answer.
async function jsonOf(api: ApiContext, run: (context: CommandContext) => Promise<number>): Promise<unknown> {
  let text = "";
  await asHttp(() => run(commandContext(api, Date.now(), { write: (chunk: string) => (text += chunk) })));
  return JSON.parse(text) as unknown;
}

async function allRows(api: ApiContext, now: number, statuses?: readonly ListStatus[]): Promise<{ rows: InstanceRow[]; unreadable: string[] }> {
  // Stored statuses narrow the store's own query; stale and dead-letter are told from the rows.
  const narrow = statuses !== undefined && statuses.every(isSnapshotStatus);
  const selection = narrow ? { statuses: statuses as SnapshotStatus[] } : {};
  const { snapshots, unreadable } = await select(commandContext(api, now), selection);
  // select sorts oldest first; newest first here: what changed last is what an operator looks for.
  const rows = snapshots.reverse().map((snapshot) => rowOf(snapshot, now, api.maxAttempts));
  return { rows, unreadable: unreadable.map((error) => error.message) };
}

function parseStatuses(text: string | null): ListStatus[] | undefined {
  if (text === null || text === "") return undefined;
  const words = text.split(",");
  for (const word of words) {
    if (!(listStatuses as readonly string[]).includes(word)) throw new HttpError(400, `status "${word.slice(0, 40)}" is not one of ${listStatuses.join(", ")}`);
  }
  return words as ListStatus[];
}

function count(text: string | null, name: string, fallback: number, max: number): number {
  if (text === null || text === "") return fallback;
  if (!/^\d{1,9}$/.test(text) || Number(text) > max) throw new HttpError(400, `${name} must be a whole number from 0 to ${max}`);
  return Number(text);
}

/**
 * `GET /api/instances?status=failed,stale&q=text&workflow=name&limit=100&after=<next of the previous page>`,
 * or `&offset=100` for a position (which shifts as records are saved between two requests).
 */
export async function listInstances(api: ApiContext, query: URLSearchParams): Promise<unknown> {
  const now = Date.now();
  const statuses = parseStatuses(query.get("status"));
  const needle = requireString(query.get("q") ?? "", "q").trim();
  // One workflow's, by its exact name: the dead letters view's way to a whole group.
  const workflow = query.get("workflow");
  const start = pageStart(query);
  const limit = count(query.get("limit"), "limit", 100, maxLimit);
  const { rows, unreadable } = await allRows(api, now, statuses);
  const matched = rows.filter((row) => (statuses === undefined || statuses.some((status) => matchesStatus(row, status))) && matchesSearch(row, needle) && (workflow === null || row.workflowName === workflow));
  return { store: api.store.label, now: new Date(now).toISOString(), allowActions: api.allowActions, total: matched.length, ...pageOf(matched, start, limit), unreadable };
}

function pageStart(query: URLSearchParams): PageStart {
  const after = query.get("after");
  const offset = count(query.get("offset"), "offset", 0, Number.MAX_SAFE_INTEGER);
  if (after === null || after === "") return { offset };
  if (query.has("offset")) throw new HttpError(400, "give after (a cursor) or offset, not both");
  return { after: parseCursor(after) };
}

/** `GET /api/dead-letters?limit=100`: grouped by workflow and error; at most `limit` groups, and rows in all. */
export async function listDeadLetters(api: ApiContext, query: URLSearchParams): Promise<unknown> {
  const limit = count(query.get("limit"), "limit", 100, maxLimit);
  const now = Date.now();
  const { rows, unreadable } = await allRows(api, now);
  const page = firstDeadLetters(groupDeadLetters(rows), limit);
  return { store: api.store.label, now: new Date(now).toISOString(), allowActions: api.allowActions, maxAttempts: api.maxAttempts, ...page, unreadable };
}

// Any stored keys can be shown, deleted or retried (a provider takes keys of any characters); the
// library refuses blank ones to cancel and signal, which is bad input (400) there.
function keysFrom(get: (name: string) => unknown, require = requireString): SnapshotKeys {
  return { foundryExecutionId: require(get("instance"), "instance", anyLength), workflowId: require(get("workflowKey"), "workflowKey", anyLength) };
}

/**
 * The keys a query names: `keys`, the JSON of the pair (a lone surrogate survives it, where a URL's
 * UTF-8 turns one into U+FFFD and names another instance), else `instance` and `workflowKey`.
 */
function keysOfQuery(query: URLSearchParams): SnapshotKeys {
  const pair = query.get("keys");
  if (pair === null) return keysFrom((name) => query.get(name) ?? undefined);
  let keys: unknown;
  try {
    keys = JSON.parse(pair);
  } catch {
    // refused below
  }
  if (!Array.isArray(keys) || keys.length !== 2) throw new HttpError(400, "keys must be the JSON of [instance, workflowKey]");
  return keysFrom((name) => keys[name === "instance" ? 0 : 1] as unknown);
}

/** `GET /api/instance?keys=<JSON of [instance, workflowKey]>`, or `?instance=..&workflowKey=..`. */
export async function showInstance(api: ApiContext, query: URLSearchParams): Promise<InstanceDetail & { allowActions: boolean; mailbox: boolean }> {
  const keys = keysOfQuery(query);
  const snapshot = await asHttp(() => api.store.provider.tryLoad(keys.foundryExecutionId, keys.workflowId));
  if (snapshot === undefined) throw new HttpError(404, "no snapshot is stored under these keys");
  return { ...detailOf(snapshot, Date.now(), api.maxAttempts), allowActions: api.allowActions, mailbox: api.store.instances.mailbox };
}

/**
 * `POST /api/delete {instance, workflowKey, revision?}`: refused (409) while a process holds a live
 * claim, as the CLI's delete is, and when the record is no longer `revision` (the one the page showed).
 */
export async function deleteInstance(api: ApiContext, body: Record<string, unknown>): Promise<unknown> {
  const keys = keysFrom((name) => body[name]);
  const { revision } = body;
  if (revision !== undefined && !(Number.isSafeInteger(revision) && (revision as number) >= 1)) throw new HttpError(400, "revision must be a whole number from 1");
  await asHttp(() => deleteCommand(commandContext(api, Date.now()), keys, false, revision as number | undefined));
  return { deleted: 1, instance: keys.foundryExecutionId, workflowKey: keys.workflowId };
}

/** `POST /api/retry {instance, workflowKey}`: a dead letter's attempts back to 0, for a coordinator to resume it. */
export async function retryInstance(api: ApiContext, body: Record<string, unknown>): Promise<unknown> {
  const keys = keysFrom((name) => body[name]);
  const revision = await asHttp(() => retryDeadLetter(api.store, keys, api.maxAttempts));
  return { retried: 1, instance: keys.foundryExecutionId, workflowKey: keys.workflowId, revision };
}

/** `POST /api/cancel {instance, workflowKey, compensate?}`: as `workflowforge cancel --json`; 404 nothing stored, 409 completed. */
export function cancelAction(api: ApiContext, body: Record<string, unknown>): Promise<unknown> {
  const keys = keysFrom((name) => body[name], requireNonBlank);
  if (body.compensate !== undefined && typeof body.compensate !== "boolean") throw new HttpError(400, "compensate must be true or false");
  return jsonOf(api, (context) => cancelCommand(context, keys, body.compensate === true));
}

/**
 * `POST /api/signal {instance, workflowKey, event, payload?, eventId?}`: as `workflowforge signal
 * --json`, the payload any JSON value; 409 when the store keeps no events.
 */
export function signalAction(api: ApiContext, body: Record<string, unknown>): Promise<unknown> {
  const keys = keysFrom((name) => body[name], requireNonBlank);
  const name = requireNonBlank(body.event, "event");
  const eventId = body.eventId === undefined ? undefined : requireNonBlank(body.eventId, "eventId");
  const event = { name, payload: body.payload, ...(eventId === undefined ? {} : { eventId }) };
  return jsonOf(api, (context) => signalCommand(context, keys, event));
}

// What to do about a claimed record, from the page: it has no --force, which the CLI's refusal names.
const forceFromShell = "delete it from a shell with `workflowforge delete --force` and the same store options";
const claimedAdvice = `; wait for the claim's lease to expire (a worker that stopped gives it up then), or ${forceFromShell}`;
const liveOwnerAdvice = `; wait for that process to finish the run or exit, or ${forceFromShell}`;

// The CLI's refusals keep their meaning: not found is 404, a claimed or changed record 409. So
// is a record that cannot be read: the store answered, about that record (502 is for a store that
// fails), whichever call found it; the CLI's delete wraps it in a refusal naming --force, which
// the page has not.
async function asHttp<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const unreadable = corruptedIn(error);
    if (unreadable !== undefined) throw new HttpError(409, unreadable.message);
    if (error instanceof CliError && error.code === "REFUSED" && error.message.endsWith(claimedHint)) {
      const refusal = error.message.slice(0, -claimedHint.length);
      throw new HttpError(409, refusal + (refusal.endsWith(liveOwnerNote) ? liveOwnerAdvice : claimedAdvice));
    }
    if (error instanceof CliError && error.code === "NOT_FOUND") throw new HttpError(404, error.message);
    if (error instanceof CliError && error.code === "REFUSED") throw new HttpError(409, error.message);
    if (isWorkflowForgeError(error) && error.code === "SNAPSHOT_CONFLICT") throw new HttpError(409, `the record changed meanwhile; reload and try again (${error.message})`);
    // A payload the codec cannot store (nested too deep, a function...) is the request's fault.
    if (isWorkflowForgeError(error) && error.code === "SNAPSHOT_SERIALIZATION") throw new HttpError(400, error.message);
    throw error;
  }
}

function corruptedIn(error: unknown): Error | undefined {
  const corrupted = (candidate: unknown): candidate is Error => isWorkflowForgeError(candidate) && candidate.code === "SNAPSHOT_CORRUPTED";
  if (corrupted(error)) return error;
  if (error instanceof CliError && corrupted(error.cause)) return error.cause;
  return undefined;
}
