import { isNativeError } from "node:util/types";
import { messageOf } from "../../internal/thrown.js";
import { pairKey } from "../keys.js";
import type { SnapshotKeys } from "../errors.js";
import type { WorkflowPersistenceProvider } from "../provider.js";

// One case's dealings with the provider. The kit hands a case the provider behind a wrapper that
// notes every call until it settles, so that a case outliving its deadline names the call that
// never answered, and the keys of every record saved and event delivered, so that the case can
// delete them afterwards and leave the user's store as it found it.

const methods = ["save", "tryLoad", "delete", "list", "claim", "deliver", "receive", "subscribe"] as const;
type Method = (typeof methods)[number];
type AnyFunction = (...args: unknown[]) => unknown;

export interface CaseSession {
  /** `provider` as the case sees it: its calls are watched, and the keys it writes remembered. */
  watch<P extends WorkflowPersistenceProvider>(provider: P): P;
  /** Notes `result` as the call `what` until it settles, and returns it unchanged. */
  pending<T>(what: string, result: T): T;
  /** Runs `body`; rejects once `timeoutMs` passed without it settling, naming the oldest call still pending. */
  within<T>(body: () => Promise<T>): Promise<T>;
  /** True once a deadline of `within` passed. */
  expired(): boolean;
  /** The keys of every record saved and every event delivered through a watched provider. */
  written(): SnapshotKeys[];
}

// Taken when the kit loads: a test that fakes timers later (vitest's useFakeTimers fakes setImmediate
// by default) would otherwise leave every provider call of the kit waiting for a tick it never gives.
const { setImmediate: nextTurn } = globalThis;

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null | undefined)?.then === "function";
const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> => typeof (value as AsyncIterable<unknown> | null | undefined)?.[Symbol.asyncIterator] === "function";

/** What `call` returns, or a rejection with what it threw: either way the caller awaits it. */
function attempt<T>(what: string, call: () => T): T | Promise<never> {
  try {
    return call();
  } catch (thrown) {
    return Promise.reject(asError(what, thrown));
  }
}

/** `value` as a message would read it (a string quoted, as JSON), cut at 200 characters. */
function shown(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : messageOf(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** `thrown`, or when it is not an Error, an Error naming the call and showing the value. */
export function asError(what: string, thrown: unknown): Error {
  if (thrown instanceof Error || isNativeError(thrown)) return thrown;
  const kind = thrown === null || thrown === undefined ? "" : `, ${typeof thrown === "object" ? "an object" : `a ${typeof thrown}`},`;
  return new Error(`${what} failed with ${shown(thrown)}${kind} rather than an Error`, { cause: thrown });
}

export function createCaseSession(timeoutMs: number): CaseSession {
  // Each call not settled yet, by its number in the case: what it is, and since when (performance.now()).
  const calls = new Map<number, { readonly what: string; readonly since: number }>();
  const keys = new Map<string, SnapshotKeys>();
  let counter = 0;
  let timedOut = false;

  function pending<T>(what: string, result: T): T {
    if (isThenable(result)) {
      const id = ++counter;
      calls.set(id, { what, since: performance.now() });
      const settled = () => void calls.delete(id);
      result.then(settled, settled);
    }
    return result;
  }

  /**
   * Settles as `result` does, but a macrotask later, and never once the deadline passed: a case
   * looping on calls that settle in microtasks only (two coordinators re-claiming what a claim()
   * ignoring leases hands out) would starve the deadline's timer and hang. A thrown value that is
   * not an Error becomes one naming the call: a test framework shows "boom" without saying where.
   */
  const answered = <T>(what: string, result: T): Promise<Awaited<T>> =>
    new Promise((resolve, reject) => {
      const later = (settle: () => void) => nextTurn(() => void (timedOut || settle()));
      Promise.resolve(result).then(
        (value) => later(() => resolve(value)),
        (thrown: unknown) => later(() => reject(asError(what, thrown))),
      );
    });

  // An iterable list() is pending while each step of its iteration is.
  const iterated = (what: string, iterable: AsyncIterable<unknown>): AsyncIterable<unknown> => ({
    [Symbol.asyncIterator]() {
      const iterator = iterable[Symbol.asyncIterator]();
      const step = `${what} (its iteration)`;
      return {
        next: () => pending(step, answered(step, attempt(step, () => iterator.next()))),
        return: async () => (await iterator.return?.()) ?? { done: true, value: undefined },
      };
    },
  });

  function call(provider: WorkflowPersistenceProvider, method: Method, args: unknown[]): unknown {
    const what = `provider.${method}`;
    if (method === "save" || method === "deliver") {
      const { foundryExecutionId, workflowId } = args[0] as SnapshotKeys;
      keys.set(pairKey({ foundryExecutionId, workflowId }), { foundryExecutionId, workflowId });
    }
    // A case past its deadline runs on, as nothing can stop it, but reaches the provider no more.
    if (timedOut) return new Promise<never>(() => undefined);
    // Called on the provider itself: a class provider's methods may read its private fields.
    const result = attempt(what, () => Reflect.apply(Reflect.get(provider, method) as AnyFunction, provider, args));
    if (method === "list" && !isThenable(result) && isAsyncIterable(result)) return iterated(what, result);
    const settled = pending(what, answered(what, result));
    if (method !== "subscribe") return settled;
    // The stop function subscribe() resolves is a call that may not settle, too.
    return settled.then((stop) => () => pending(`${what}'s stop()`, answered(`${what}'s stop()`, attempt(`${what}'s stop()`, stop as AnyFunction))));
  }

  // The oldest call not settled, and for how long: pending since the case began, it is the one that
  // hung; pending for part of it only, it may have hung or be the last of calls that took the time;
  // pending for a moment only, the calls kept answering and the case kept going round.
  function deadlineMessage(): string {
    const [first] = calls.entries();
    if (first === undefined) return `the case did not finish within ${timeoutMs} ms, with no provider call pending`;
    const [number, oldest] = first;
    const pendingMs = Math.round(performance.now() - oldest.since);
    if (pendingMs >= timeoutMs * 0.9) return `${oldest.what} did not settle within ${timeoutMs} ms`;
    const where = `${oldest.what}, call ${number} of ${counter}, had not settled after ${pendingMs} ms`;
    if (pendingMs >= timeoutMs * 0.1) return `the case did not finish within ${timeoutMs} ms: ${where} (a call that hangs, or a provider too slow for the deadline)`;
    return `the case did not finish within ${timeoutMs} ms, its provider calls settling all along: ${where} (answers that keep the case going round, such as a claim() taking records under a live lease again, or a provider too slow for the deadline)`;
  }

  return {
    pending,
    watch<P extends WorkflowPersistenceProvider>(provider: P): P {
      const watched: Record<string, unknown> = {};
      // A getter, as a provider may compute its capabilities.
      Object.defineProperty(watched, "capabilities", { enumerable: true, get: () => provider.capabilities });
      for (const method of methods) {
        if (typeof Reflect.get(provider, method) === "function") watched[method] = (...args: unknown[]) => call(provider, method, args);
      }
      return watched as P;
    },
    async within<T>(body: () => Promise<T>): Promise<T> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new Error(`${deadlineMessage()} (the initializer's caseTimeoutMs)`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([body(), deadline]);
      } finally {
        // Cleared, so that no timer of the kit keeps the process alive after the case.
        clearTimeout(timer);
      }
    },
    expired: () => timedOut,
    written: () => [...keys.values()],
  };
}
