import { PersistenceError } from "../errors.js";
import { anyInstance } from "../keys.js";
import { redisConnectionDetail, withDeadline } from "./connection-errors.js";
import { requireFunction } from "../../internal/validate.js";
import { throwIfAborted } from "./shared.js";

// subscribe() on Redis: a connection of its own, made with the client's duplicate() (a connection
// in subscriber mode can send nothing else), subscribed to the channel the deliver script PUBLISHes
// to when it marked a record due.

/** The part of an ioredis connection subscribe() uses. */
interface IoRedisSubscriber {
  readonly status?: string;
  readonly options?: { readonly enableOfflineQueue?: boolean };
  connect(): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** The part of a node-redis connection (4 or later) subscribe() uses. */
interface NodeRedisSubscriber {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: unknown, channel: unknown) => void): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  /** node-redis 5; 4 has quit() and disconnect(). */
  close?(): Promise<unknown>;
  destroy?(): void;
  quit?(): Promise<unknown>;
  disconnect?(): Promise<unknown>;
}

type Duplicable = { duplicate(overrides?: unknown): unknown; call?: unknown; options?: { socket?: Record<string, unknown> } };

/** True when `client` can make the subscriber connection of `subscribe()`: it has `duplicate()`. */
export function canDuplicate(client: unknown): boolean {
  return typeof client === "object" && client !== null && typeof (client as Partial<Duplicable>).duplicate === "function";
}

/**
 * Subscribes a duplicate of `client` to `channel` and calls `listener` for each message until the
 * returned function (or `signal`) stops it and closes the duplicate. Rejects with PersistenceError
 * when the subscription is not confirmed within `timeoutMs`, with a TypeError when `listener` is not
 * a function, and with the signal's reason when it aborts while subscribing (closing the duplicate).
 */
export async function subscribeTo(client: unknown, channel: string, listener: () => void, timeoutMs: number, signal?: AbortSignal): Promise<() => Promise<void>> {
  throwIfAborted(signal);
  if (!canDuplicate(client)) throw new TypeError("RedisPersistenceProvider.subscribe: the client has no duplicate() to make a subscriber connection with (capabilities.push is false)");
  requireFunction(listener, "RedisPersistenceProvider.subscribe(listener): listener");
  const ioredis = typeof (client as Duplicable).call === "function";
  const reconnecting = { connected: false };
  const duplicate = duplicateOf(client as Duplicable, ioredis, reconnecting) as IoRedisSubscriber & NodeRedisSubscriber;
  let stopped = false;
  const notify = (): void => {
    if (stopped) return;
    // A listener is a hint to look (the coordinator also polls): its failure must not break the connection.
    try {
      listener();
    } catch {
      // ignored, see above
    }
  };
  // The client retries a broken connection and subscribes again; without a listener, an "error"
  // event would end the process (node-redis) or be printed as unhandled (ioredis).
  duplicate.on("error", () => undefined);
  const subscribed = async (): Promise<void> => {
    if (ioredis) {
      // Connected first: a client made with enableOfflineQueue: false refuses a command sent before.
      if (duplicate.status === "wait") await duplicate.connect(); // lazyConnect
      else if (duplicate.status === "connecting" || duplicate.status === "connect") await ready(duplicate);
      duplicate.on("message", (from) => from === channel && notify());
      await duplicate.subscribe(channel);
    } else {
      await duplicate.connect();
      reconnecting.connected = true;
      await duplicate.subscribe(channel, notify);
    }
    duplicate.on("ready", reconnected);
  };
  // Connected again after a lost connection: what was published while it was down reached no one,
  // so the listener is told to look once the client has subscribed again. node-redis is ready only
  // then; ioredis is ready just before it sends its SUBSCRIBE, so one more is sent, answered after
  // it (a channel subscribed twice is subscribed once).
  const reconnected = (): void => {
    if (stopped) return;
    if (ioredis) duplicate.subscribe(channel).then(notify, () => undefined);
    else notify();
  };
  try {
    await withDeadline(subscribed, timeoutMs)([]);
  } catch (cause) {
    stopped = true;
    await close(duplicate, ioredis, true, timeoutMs);
    throw new PersistenceError({ source: "redis", call: "subscribe", keys: anyInstance, cause, detail: redisConnectionDetail(duplicate, cause, timeoutMs) });
  }
  let closing: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped = true;
    signal?.removeEventListener("abort", onAbort);
    return (closing ??= close(duplicate, ioredis, false, timeoutMs));
  };
  const onAbort = (): void => void stop();
  signal?.addEventListener("abort", onAbort, { once: true });
  // Aborted while subscribing: its abort event has fired already, so onAbort would never stop it.
  if (signal?.aborted === true) {
    await stop();
    throwIfAborted(signal);
  }
  return stop;
}

/**
 * The subscriber connection: `client.duplicate()`, which copies the client's options. node-redis's
 * `reconnectStrategy: false` (the fail-fast setup the provider's errors advise) would lose that
 * subscriber for good at its first broken connection, silently: it reconnects instead, at growing
 * intervals up to 2 s, once it was connected (a server unreachable at first still fails at once).
 */
function duplicateOf(client: Duplicable, ioredis: boolean, reconnecting: { connected: boolean }): unknown {
  const socket = ioredis ? undefined : client.options?.socket;
  if (socket?.reconnectStrategy !== false) return client.duplicate();
  const reconnectStrategy = (retries: number, cause?: Error): number | Error => (reconnecting.connected ? Math.min(100 * (retries + 1), 2_000) : (cause ?? new Error("not connected")));
  return client.duplicate({ socket: { ...socket, reconnectStrategy } });
}

/**
 * Resolves once an ioredis connection on its way is ready. It rejects with the connection's error
 * when the client was made to fail fast (`enableOfflineQueue: false`, which the provider's errors
 * advise) or gives up ("end"); otherwise an error does not end the wait: the client retries (the
 * server may be restarting), and the caller's deadline bounds it.
 */
function ready(connection: IoRedisSubscriber): Promise<void> {
  const failFast = connection.options?.enableOfflineQueue === false;
  return new Promise((resolve, reject) => {
    let last: unknown;
    const settle = (error?: unknown): void => {
      connection.removeListener("ready", onReady);
      connection.removeListener("error", onError);
      connection.removeListener("end", onEnd);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error("the connection failed", { cause: error }));
    };
    const onReady = (): void => settle();
    const onError = (error: unknown): void => (failFast ? settle(error) : void (last = error));
    const onEnd = (): void => settle(last ?? new Error("the connection ended before it was ready"));
    connection.on("ready", onReady);
    connection.on("error", onError);
    connection.on("end", onEnd);
  });
}

// QUIT lets the server end the connection cleanly; a connection that cannot send it (closed,
// reconnecting), that never subscribed or whose server does not answer within `timeoutMs` (hung,
// stopped) is dropped instead, which also ends its reconnecting.
async function close(connection: IoRedisSubscriber & NodeRedisSubscriber, ioredis: boolean, drop: boolean, timeoutMs: number): Promise<void> {
  const quit = (): unknown => (ioredis ? connection.quit() : connection.close !== undefined ? connection.close() : connection.quit?.());
  const destroy = (): unknown => (ioredis ? connection.disconnect() : connection.destroy !== undefined ? connection.destroy() : connection.disconnect?.());
  if (!drop && (await settled(() => withDeadline(async () => await quit(), timeoutMs)([])))) return;
  await settled(destroy);
}

async function settled(action: () => unknown): Promise<boolean> {
  try {
    await action();
    return true;
  } catch {
    return false;
  }
}
