// Stands in for "vitest" when a README sample registers the conformance suite from inside a
// running test: it runs every registered case at once and lets the caller await them all.
const running: Promise<void>[] = [];
const titles: string[] = [];
const afterAlls: (() => unknown)[] = [];
let ready: Promise<unknown> = Promise.resolve();

export function describe(_name: string, body: () => void): void {
  body();
}

export function beforeAll(hook: () => unknown): void {
  ready = ready.then(hook);
}

export function afterAll(hook: () => unknown): void {
  afterAlls.push(hook);
}

export function it(title: string, body: () => Promise<void>): void {
  titles.push(title);
  running.push(ready.then(body));
}
it.skip = (title: string): void => {
  titles.push(`(skipped) ${title}`);
};

/** Waits for every registered case; rejects with the first failure. Returns the titles run. */
export async function settle(): Promise<string[]> {
  await Promise.all(running);
  for (const hook of afterAlls) await hook();
  return titles;
}
