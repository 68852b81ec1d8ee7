// The conformance kit under node:test on a provider whose calls never answer: node:test has no time
// limit of its own, so only the kit's caseTimeoutMs ends each case. conformance-deadline.test.ts
// bundles this file, runs it with `node --test` and reads its TAP report.
import { after, before, describe, it } from "node:test";
import { conformanceGroups } from "../../../src/persistence/testing/cases.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";

const never = () => new Promise<never>(() => undefined);
// Its connection: an open handle that keeps the process alive until destroy() closes it, as a socket would.
const connections = new Map<object, ReturnType<typeof setInterval>>();

describeProviderConformance(
  {
    name: "A provider that never answers",
    create() {
      const provider = { save: never, tryLoad: never, delete: never };
      connections.set(provider, setInterval(() => undefined, 1_000));
      return provider;
    },
    destroy: (provider) => clearInterval(connections.get(provider)),
    caseTimeoutMs: 200,
    skip: conformanceGroups.filter((group) => group !== "basics"),
  },
  { describe, it, beforeAll: (fn, ms) => before(fn, { timeout: ms }), afterAll: (fn, ms) => after(fn, { timeout: ms }) },
);
