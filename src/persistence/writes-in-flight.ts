// A run's saves and deletes in flight. A write waits for those before it to land, the run settles
// only once none is, and it takes no more after: nothing lands on its behalf once its forge()
// settled, or after a write it asked for later. Without this, a save that a timeout layer gave up
// on could land after the compensation or a retry had deleted the record, and bring the instance
// back to run its operations again. Nor is a write sent for an operation given up on while the
// write waited: a layer that recovers from the timeout has moved the run on past that operation.

/** Counts a run's writes in flight, and refuses new ones once closed. */
export class WritesInFlight {
  #count = 0;
  #whenNone: (() => void) | undefined;
  #closed = false;

  /**
   * A write is about to be sent. Throws what `refused()` makes, sending nothing, once closed or once
   * `asker` (the signal of the operation that asked for the write) aborted: the asker is then a
   * continuation a timeout gave up on, and the record stays at the run's last write.
   */
  sending(refused: () => Error, asker?: AbortSignal): void {
    if (this.#closed || asker?.aborted === true) throw refused();
    this.#count++;
  }

  /** A write sent settled, however it did. */
  sent(): void {
    if (--this.#count > 0) return;
    const none = this.#whenNone;
    this.#whenNone = undefined;
    none?.();
  }

  /**
   * {@link sending}, once no write is in flight: at once (undefined) when none is, else a promise
   * that resolves once this write is counted, the check and the count in one turn (another write
   * that waited for the same one may have started meanwhile).
   */
  turn(refused: () => Error, asker?: AbortSignal): Promise<void> | undefined {
    if (this.#count > 0) return this.#afterNone(refused, asker);
    this.sending(refused, asker);
    return undefined;
  }

  async #afterNone(refused: () => Error, asker: AbortSignal | undefined): Promise<void> {
    for (let landing = this.none(); landing !== undefined; landing = this.none()) await landing;
    this.sending(refused, asker);
  }

  /** Undefined when no write is in flight; else a promise that resolves once none is. */
  none(): Promise<void> | undefined {
    if (this.#count === 0) return undefined;
    return new Promise<void>((resolve) => {
      const before = this.#whenNone;
      this.#whenNone = () => {
        before?.();
        resolve();
      };
    });
  }

  /** The run settled: every write asked for from now on is refused. */
  close(): void {
    this.#closed = true;
  }
}
