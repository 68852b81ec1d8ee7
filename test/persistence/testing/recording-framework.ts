import type { SkipContext, TestBody, TestFramework } from "../../../src/persistence/testing/index.js";

export interface Registration {
  readonly title: string;
  /** Which function registered the test. */
  readonly via: "it" | "it.skip";
  readonly body: TestBody;
}

/**
 * A framework that records what the suite registers instead of running it, so a test can run the
 * bodies itself, with or without a context. `withItSkip: false` is a framework that has no `it.skip`.
 */
export function recordingFramework({ withItSkip = true } = {}): { framework: TestFramework; registered: Registration[]; described: string[] } {
  const registered: Registration[] = [];
  const described: string[] = [];
  const it = (title: string, body: TestBody): void => void registered.push({ title, via: "it", body });
  const skip = (title: string, body: TestBody): void => void registered.push({ title, via: "it.skip", body });
  const framework: TestFramework = {
    describe: (name, body) => {
      described.push(name);
      body();
    },
    it: withItSkip ? Object.assign(it, { skip }) : it,
    beforeAll: () => undefined,
    afterAll: () => undefined,
  };
  return { framework, registered, described };
}

/** A context like node:test's: `skip(note)` marks the test and returns, so the body must return too. */
export function markingContext(): SkipContext & { readonly notes: (string | undefined)[] } {
  const notes: (string | undefined)[] = [];
  return { notes, skip: (note) => void notes.push(note) };
}
