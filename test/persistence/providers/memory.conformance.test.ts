import * as vitest from "vitest";
import { defaultSnapshotCodec, MemoryPersistenceProvider, type SnapshotCodec, type SnapshotKeys } from "../../../src/persistence/index.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";

describeProviderConformance({ name: "MemoryPersistenceProvider", create: () => new MemoryPersistenceProvider() }, vitest);

describeProviderConformance({ name: "MemoryPersistenceProvider({ live: true })", create: () => new MemoryPersistenceProvider({ live: true }) }, vitest);

// The stored text cannot be reached from outside, so damage is the codec's: it refuses to decode
// the records the kit calls corrupt, as the built-in codec refuses altered text.
const damaged = new WeakMap<MemoryPersistenceProvider, Set<string>>();
const id = (keys: SnapshotKeys): string => JSON.stringify([keys.foundryExecutionId, keys.workflowId]);

describeProviderConformance(
  {
    name: "MemoryPersistenceProvider({ codec })",
    create: () => {
      const broken = new Set<string>();
      const codec: SnapshotCodec = {
        encode: (snapshot) => defaultSnapshotCodec.encode(snapshot),
        decode: (text, keys) => (broken.has(id(keys)) ? defaultSnapshotCodec.decode("junk", keys) : defaultSnapshotCodec.decode(text, keys)),
      };
      const provider = new MemoryPersistenceProvider({ codec });
      damaged.set(provider, broken);
      return provider;
    },
    corrupt: (keys, provider) => void damaged.get(provider)?.add(id(keys)),
  },
  vitest,
);
