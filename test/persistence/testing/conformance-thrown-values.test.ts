import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { conformanceCases, runConformanceCase } from "../../../src/persistence/testing/index.js";

// A provider may throw what is not an Error: a string, a plain object, null. The middleware wraps
// it in a PersistenceError; a case calling the provider itself fails with an Error naming the call
// and showing the value, as a test framework shows a thrown string without saying where it came from.

function caseNamed(start: string) {
  const found = conformanceCases.find((testCase) => testCase.name.startsWith(start));
  if (found === undefined) throw new Error(`no conformance case named "${start}…"`);
  return found;
}

/** A call that throws `value` at once. */
const throwing = (value: unknown) => (): never => {
  throw value;
};

/** A call that rejects with `value`. */
// eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a provider may reject with anything: the case under test
const rejecting = (value: unknown) => (): Promise<never> => Promise.reject(value);

/** The memory provider with one call replaced. */
function providerWith(replaced: Partial<WorkflowPersistenceProvider>): () => WorkflowPersistenceProvider {
  return () => {
    const memory = new MemoryPersistenceProvider();
    return {
      save: (snapshot, signal) => memory.save(snapshot, signal),
      tryLoad: (instance, workflow, signal) => memory.tryLoad(instance, workflow, signal),
      delete: (instance, workflow, signal) => memory.delete(instance, workflow, signal),
      ...replaced,
    };
  };
}

/** What the case rejected with. */
async function failure(create: () => WorkflowPersistenceProvider, start: string): Promise<unknown> {
  return runConformanceCase({ name: "Thrower", create }, caseNamed(start)).then(
    () => expect.fail("the case passed"),
    (error: unknown) => error,
  );
}

describe("a conformance case whose provider throws what is not an Error", () => {
  it("fails with an Error naming the call and showing a string it threw, the string as its cause", async () => {
    const thrown = await failure(providerWith({ save: throwing("boom") }), "save then tryLoad round-trips every snapshot field");
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).toMatchObject({ message: 'provider.save failed with "boom", a string, rather than an Error', cause: "boom" });
  });

  it("shows a plain object it rejected with as JSON, and null as null", async () => {
    const object = await failure(providerWith({ tryLoad: rejecting({ code: "E_STORE", detail: "down" }) }), "tryLoad(key) of an unknown key");
    expect(object).toMatchObject({ message: 'provider.tryLoad failed with {"code":"E_STORE","detail":"down"}, an object, rather than an Error' });
    const nothing = await failure(providerWith({ delete: rejecting(null) }), "delete(key) of an unknown key resolves");
    expect(nothing).toMatchObject({ message: "provider.delete failed with null rather than an Error" });
  });

  it("passes an Error the provider throws through unchanged", async () => {
    const error = new TypeError("the store refused");
    expect(await failure(providerWith({ tryLoad: rejecting(error) }), "tryLoad(key) of an unknown key")).toBe(error);
  });

  it("fails naming initializer.create() when create() throws a string", async () => {
    const initializer = { name: "Unborn", create: throwing("no database") };
    await expect(runConformanceCase(initializer, caseNamed("tryLoad(key) of an unknown key"))).rejects.toThrow('initializer.create() failed with "no database", a string, rather than an Error');
  });
});
