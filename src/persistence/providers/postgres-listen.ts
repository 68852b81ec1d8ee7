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
  on(event: "error" | "end", listener: (error?: unknown) => void): unknown;
  removeListener(event: "notification" | "error" | "end", listener: (...args: never[]) => void): unknown;
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
      // Unquoted: PGlite 0.2 matches notifications to the name as given, and the channel is a plain
      // lowercase identifier, which quoting would not change.
      const unlisten = await (pglite as ListeningPGlite).listen(channel, () => tell(listener));
      // Aborted while listen() ran: its abort event has fired already, so stopOnAbort would never stop it.
      if (signal?.aborted === true) {
        await unlisten();
        throwIfAborted(signal);
      }
      return stopOnAbort(unlisten, signal);
    };
  }
  return undefined;
}

// LISTEN on a connection kept from the pool. A lost connection (a server restart, a proxy's idle
// timeout) loses what was sent while it was down: the listener is told to look, and listening
// resumes on a new connection, retried at growing intervals (up to 5 s) until it is stopped.
// One connection is lost once: pg emits "error" before it rejects the query in flight, so a
// connection lost while its LISTEN is in flight is left to that rejection (the caller retries, or
// subscribe() fails), and only one that was listening starts a retry here.
class PoolListener {
  #connection: ListeningConnection | undefined;
  #listening = false;
  #stopped = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #delayMs = 100;
  readonly #onNotification = (message: Notification): void => {
    if (message.channel === this.channel && !this.#stopped) tell(this.listener);
  };
  readonly #onLost = (error?: unknown): void => {
    const wasListening = this.#listening;
    this.#letGo(error instanceof Error ? error : true);
    if (!wasListening) return;
    this.#retryLater();
    tell(this.listener);
  };

  constructor(
    readonly pool: ListeningPool,
    readonly channel: string,
    readonly listener: () => void,
  ) {}

  async listen(): Promise<void> {
    const connection = await this.pool.connect();
    if (this.#stopped) return connection.release();
    this.#connection = connection;
    connection.on("notification", this.#onNotification);
    connection.on("error", this.#onLost);
    connection.on("end", this.#onLost);
    try {
      await connection.query(`LISTEN "${this.channel}"`);
    } catch (error) {
      this.#letGo(true);
      throw error;
    }
    // Lost between LISTEN's answer and here (its "error" came first): fail this attempt too.
    if (this.#connection !== connection) throw new Error("the listening connection was lost");
    this.#listening = true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    const connection = this.#connection;
    if (connection === undefined) return;
    try {
      await connection.query(`UNLISTEN "${this.channel}"`);
      this.#letGo(false);
    } catch (error) {
      this.#letGo(error instanceof Error ? error : true);
    }
  }

  #letGo(destroy: boolean | Error): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    this.#connection = undefined;
    this.#listening = false;
    connection.removeListener("notification", this.#onNotification);
    connection.removeListener("error", this.#onLost);
    connection.removeListener("end", this.#onLost);
    connection.release(destroy);
  }

  #retryLater(): void {
    if (this.#stopped) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      this.listen().then(
        () => {
          this.#delayMs = 100;
          // What was delivered while nobody listened: look once.
          if (!this.#stopped) tell(this.listener);
        },
        () => {
          this.#delayMs = Math.min(this.#delayMs * 2, 5_000);
          this.#retryLater();
        },
      );
    }, this.#delayMs);
    // Only the subscription's connection keeps the process alive, never a retry.
    (this.#retry as { unref?: () => void }).unref?.();
  }
}

// A listener is a hint to look (the coordinator also polls), called from inside the driver's event
// handling: an error it throws would escape as an uncaught exception there, so it is dropped.
function tell(listener: () => void): void {
  try {
    listener();
  } catch {
    // ignored, see above
  }
}

async function listenOnPool(pool: ListeningPool, channel: string, listener: () => void, signal: AbortSignal | undefined): Promise<StopListening> {
  throwIfAborted(signal);
  const listening = new PoolListener(pool, channel, listener);
  try {
    await listening.listen();
  } catch (error) {
    // Nothing of a subscription that failed goes on: no retry, no connection held.
    await listening.stop();
    throw error;
  }
  if (signal?.aborted === true) {
    await listening.stop();
    throwIfAborted(signal);
  }
  return stopOnAbort(() => listening.stop(), signal);
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
