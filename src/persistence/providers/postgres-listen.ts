import { throwIfAborted } from "./shared.js";

// subscribe() for PostgresPersistenceProvider: LISTEN on one connection of a pg Pool kept for it,
// or PGlite's listen(). Deliveries notify in the same statement that marks a record due, so a
// listener hears of it once that statement commits, from any process on the database.

interface Notification {
  readonly channel: string;
}

/** The members of a pg PoolClient that listening uses. */
interface ListeningConnection {
  query(text: string): Promise<unknown>;
  on(event: "notification", listener: (message: Notification) => void): unknown;
  on(event: "error", listener: (error: unknown) => void): unknown;
  removeListener(event: "notification" | "error", listener: (...args: never[]) => void): unknown;
  release(destroy?: boolean | Error): void;
}

/** A pg Pool: `connect()` lends a connection, and it counts them (a Client has no `totalCount`). */
interface ListeningPool {
  connect(): Promise<ListeningConnection>;
  readonly totalCount: number;
  readonly options?: { readonly max?: number };
}

/** PGlite, whose one connection delivers notifications to `listen`'s callbacks. */
interface ListeningPGlite {
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
}

/** Stops listening and releases what listening held. */
export type StopListening = () => Promise<void>;

/** How `client` can listen: a pg Pool of at least two connections (one is kept for LISTEN), PGlite, or not at all. */
export function listenerOf(client: object): ((channel: string, listener: () => void, signal?: AbortSignal) => Promise<StopListening>) | undefined {
  const pool = client as Partial<ListeningPool>;
  if (typeof pool.connect === "function" && typeof pool.totalCount === "number" && (pool.options?.max ?? 10) >= 2) {
    return (channel, listener, signal) => listenOnPool(pool as ListeningPool, channel, listener, signal);
  }
  const pglite = client as Partial<ListeningPGlite>;
  if (typeof pglite.listen === "function") {
    return async (channel, listener, signal) => {
      throwIfAborted(signal);
      return stopOnAbort(await (pglite as ListeningPGlite).listen(`"${channel}"`, () => listener()), signal);
    };
  }
  return undefined;
}

// A lost connection loses the notifications sent while it was down: the listener is told to look,
// and listening stops (the coordinator polls on; a new subscribe() listens again).
async function listenOnPool(pool: ListeningPool, channel: string, listener: () => void, signal: AbortSignal | undefined): Promise<StopListening> {
  throwIfAborted(signal);
  const connection = await pool.connect();
  let held = true;
  const onNotification = (message: Notification): void => {
    if (message.channel === channel) listener();
  };
  const letGo = (destroy: boolean | Error): void => {
    if (!held) return;
    held = false;
    connection.removeListener("notification", onNotification);
    connection.removeListener("error", onError);
    connection.release(destroy);
  };
  const onError = (error: unknown): void => {
    letGo(error instanceof Error ? error : true);
    listener();
  };
  connection.on("notification", onNotification);
  connection.on("error", onError);
  try {
    throwIfAborted(signal);
    await connection.query(`LISTEN "${channel}"`);
  } catch (error) {
    letGo(true);
    throw error;
  }
  const stop = async (): Promise<void> => {
    if (!held) return;
    try {
      await connection.query(`UNLISTEN "${channel}"`);
      letGo(false);
    } catch (error) {
      letGo(error instanceof Error ? error : true);
    }
  };
  return stopOnAbort(stop, signal);
}

// The subscription also ends when the subscriber's signal aborts.
function stopOnAbort(stop: StopListening, signal: AbortSignal | undefined): StopListening {
  if (signal === undefined) return stop;
  let stopped: Promise<void> | undefined;
  const once = (): Promise<void> => (stopped ??= (signal.removeEventListener("abort", onAbort), stop()));
  const onAbort = (): void => void once().catch(() => undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  return once;
}
