/**
 * Up to `width` copies of one loop running at once (a pass's lanes): each returns when it finds
 * nothing more to do, and {@link widen} starts copies again for those that returned, so that a
 * pass woken while one slow instance still runs claims more work with its idle lanes instead of
 * waiting for that instance.
 */
export class Lanes {
  readonly #width: number;
  readonly #lane: () => Promise<void>;
  readonly #running: Promise<void>[] = [];
  #count = 0;
  // Set as settled() finds every lane returned, in that same step: a widen() after it would start
  // lanes nobody waits for, beside the next pass's.
  #closed = false;

  constructor(width: number, lane: () => Promise<void>) {
    this.#width = width;
    this.#lane = lane;
    this.widen();
  }

  /** Starts lanes until `width` run; nothing once {@link settled} resolved. */
  widen(): void {
    if (this.#closed) return;
    for (; this.#count < this.#width; this.#count++) {
      this.#running.push(this.#lane().finally(() => void this.#count--));
    }
  }

  /** Resolves once every lane returned, those {@link widen} started meanwhile included. */
  async settled(): Promise<void> {
    while (this.#running.length > 0) await Promise.all(this.#running.splice(0));
    this.#closed = true;
  }
}
