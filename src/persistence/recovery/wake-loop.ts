/** What a {@link WakeLoop} runs and listens to. */
export interface WakeLoopSettings {
  /** One pass over what is due (`resumeAll`). Passes never overlap. */
  readonly pass: () => Promise<unknown>;
  /** Woken while a pass runs: the pass may look again itself (its idle lanes claim). */
  readonly duringPass?: () => void;
  /** Time between passes when nothing wakes the loop sooner. */
  readonly pollIntervalMs: number;
  /** The store's push (`provider.subscribe`), when it has one: each call wakes the loop. */
  readonly subscribe?: ((listener: () => void) => Promise<() => Promise<void>>) | undefined;
  /** A pass or the subscription failed; the loop goes on with the next pass. */
  readonly onError: (error: unknown) => void;
}

/**
 * Runs passes over due work: at once on start, whenever it is woken (a delivery pushed by the
 * store, a signal sent from this process), and every `pollIntervalMs` in between, a pass that
 * lasts longer included. A wake during a pass is passed on to it (`duringPass`) and runs one more
 * pass right after it, so a delivery is never missed by a pass that had already looked; any
 * number of wakes during a pass cost one pass. The subscription taking effect is a wake too: what
 * was pushed before it reached no listener.
 */
export class WakeLoop {
  readonly #settings: WakeLoopSettings;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #unsubscribe: Promise<(() => Promise<void>) | undefined> = Promise.resolve(undefined);
  // The last subscribe() failed (the store was down as the worker started): the next pass tries again.
  #subscribeAgain = false;

  constructor(settings: WakeLoopSettings) {
    this.#settings = settings;
  }

  start(): void {
    this.#subscribe();
    this.wake();
  }

  // The first pass starts now, not once subscribed (a hung store would hold it up), so a delivery
  // pushed after it looked but before the subscription took effect reached nobody: once
  // subscribed, one more pass looks. A subscription that failed is tried again after each pass
  // until it holds, so a worker started while its store was down gets its push back.
  #subscribe(): void {
    const { subscribe } = this.#settings;
    if (subscribe === undefined) return;
    this.#unsubscribe = Promise.resolve()
      .then(() => (this.#stopped ? undefined : subscribe(() => this.wake())))
      .then(
        (unsubscribe) => (this.wake(), unsubscribe),
        (error: unknown) => {
          this.#report(error);
          this.#subscribeAgain = !this.#stopped;
          return undefined;
        },
      );
  }

  /** Runs a pass now, or right after the one in progress. */
  wake(): void {
    if (this.#stopped) return;
    // Polling goes on while a pass runs: one slow instance must not hold up what falls due meanwhile.
    this.#pollLater();
    if (this.#running !== undefined) {
      this.#again = true;
      this.#settings.duringPass?.();
      return;
    }
    this.#running = this.#passes().finally(() => {
      this.#running = undefined;
      if (this.#stopped) return;
      if (this.#subscribeAgain) {
        this.#subscribeAgain = false;
        this.#subscribe();
      }
      // A wake() after the last pass had looked, before this ran, asked for another pass.
      if (this.#again) this.wake();
      else this.#pollLater();
    });
  }

  #pollLater(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.wake(), this.#settings.pollIntervalMs);
  }

  /** No pass starts after this; resolves once the one in progress ended and the subscription closed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const unsubscribe = await this.#unsubscribe;
    // An unsubscribe that throws instead of rejecting is reported the same way.
    const closing = Promise.resolve().then(() => unsubscribe?.());
    await Promise.all([this.#running, closing.catch((error: unknown) => this.#report(error))]);
  }

  async #passes(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#settings.pass();
      } catch (error) {
        this.#report(error);
      }
    } while (this.#again && !this.#stopped);
  }

  // A handler that throws must not end the loop, nor leave a rejection nobody handles.
  #report(error: unknown): void {
    try {
      this.#settings.onError(error);
    } catch {
      // Nothing is left to tell.
    }
  }
}
