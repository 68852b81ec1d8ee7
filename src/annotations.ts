import { AnnotationLimitError } from "./errors.js";
import { describe } from "./internal/validate.js";
import type { RunAnnotations } from "./types.js";

/** How many keys a run's annotations hold at most. */
export const maxAnnotations = 32;
/** How long (in UTF-16 code units) an annotation's key or value may be. */
export const maxAnnotationLength = 1024;
/**
 * The keys the library's own OpenTelemetry middleware keeps (the W3C trace context). They count
 * toward no limit: instrumenting a run must never take a slot another extension relies on.
 */
export const ownAnnotationKeys: ReadonlySet<string> = new Set(["otel.traceparent", "otel.tracestate"]);

/** How many of `keys` count toward {@link maxAnnotations}: all but {@link ownAnnotationKeys}. */
export function countedAnnotations(keys: Iterable<string>): number {
  let counted = 0;
  for (const key of keys) if (!ownAnnotationKeys.has(key)) counted++;
  return counted;
}

/**
 * A run's annotations: a bounded string map, so that what an extension stores with a snapshot can
 * never grow with the number of steps. `revision` moves on every change, so a writer can tell
 * whether the copy it made last is still current.
 */
export class Annotations implements RunAnnotations {
  readonly #values = new Map<string, string>();
  readonly #workflowName: string;
  #revision = 0;

  constructor(workflowName: string) {
    this.#workflowName = workflowName;
  }

  get size(): number {
    return this.#values.size;
  }

  /** Moves on every change. */
  get revision(): number {
    return this.#revision;
  }

  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  set(key: string, value: string): void {
    checkText(key, "key", this.#workflowName);
    checkText(value, `value of "${key}"`, this.#workflowName);
    if (!this.#values.has(key) && !ownAnnotationKeys.has(key) && countedAnnotations(this.#values.keys()) >= maxAnnotations) {
      throw new AnnotationLimitError(this.#workflowName, `run.annotations.set("${key}"): a run holds at most ${maxAnnotations} annotations (besides OpenTelemetry's trace context)`);
    }
    if (this.#values.get(key) === value) return;
    this.#values.set(key, value);
    this.#revision++;
  }

  delete(key: string): boolean {
    const deleted = this.#values.delete(key);
    if (deleted) this.#revision++;
    return deleted;
  }

  entries(): IterableIterator<[string, string]> {
    return this.#values.entries();
  }
}

function checkText(text: unknown, what: string, workflowName: string): asserts text is string {
  if (typeof text !== "string") throw new TypeError(`run.annotations.set(key, value): the ${what} must be a string, got ${describe(text)}`);
  if (text.length > maxAnnotationLength) {
    throw new AnnotationLimitError(workflowName, `run.annotations.set(key, value): the ${what} is ${text.length} characters long, more than ${maxAnnotationLength}`);
  }
}
