import * as vitest from "vitest";
import { MemoryPersistenceProvider } from "../../../src/persistence/index.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";

describeProviderConformance({ name: "MemoryPersistenceProvider", create: () => new MemoryPersistenceProvider() }, vitest);
