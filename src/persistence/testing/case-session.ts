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

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null | undefined)?.then === "function";
const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> => typeof (value as AsyncIterable<unknown> | null | undefined)?.[Symbol.asyncIterator] === "function";

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

  // An iterable list() is pending while each step of its iteration is.
  const iterated = (what: string, iterable: AsyncIterable<unknown>): AsyncIterable<unknown> => ({
    [Symbol.asyncIterator]() {
      const iterator = iterable[Symbol.asyncIterator]();
      return {
        next: () => pending(`${what} (its iteration)`, iterator.next()),
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
    // Called on the provider itself: a class provider's methods may read its private fields.
    const result: unknown = Reflect.apply(Reflect.get(provider, method) as AnyFunction, provider, args);
    if (method === "list" && !isThenable(result) && isAsyncIterable(result)) return iterated(what, result);
    if (method !== "subscribe" || !isThenable(result)) return pending(what, result);
    // The stop function subscribe() resolves is a call that may not settle, too.
    return pending(what, Promise.resolve(result).then((stop) => () => pending(`${what}'s stop()`, (stop as AnyFunction)())));
  }

  // The oldest call not settled, and for how long: pending since the case began, it is the one that
  // hung; pending for part of it only, it may have hung or be the last of calls that took the time.
  function deadlineMessage(): string {
    const [first] = calls.entries();
    if (first === undefined) return `the case did not finish within ${timeoutMs} ms, with no provider call pending`;
    const [number, oldest] = first;
    const pendingMs = Math.round(performance.now() - oldest.since);
    if (pendingMs >= timeoutMs * 0.9) return `${oldest.what} did not settle within ${timeoutMs} ms`;
    return `the case did not finish within ${timeoutMs} ms: ${oldest.what}, call ${number} of ${counter}, had not settled after ${pendingMs} ms (a call that hangs, or a provider too slow for the deadline)`;
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
