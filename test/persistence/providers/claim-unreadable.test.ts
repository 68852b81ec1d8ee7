import { describe } from "vitest";
import { MemoryPersistenceProvider } from "../../../src/persistence/providers/memory.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { useSqliteFiles } from "../../support/sqlite-files.js";
import { describeRejectedClaim, describeUnreadableLeftAlone } from "./claim-rejected-cases.js";

// The embedded providers' claim() that rejects on a record it cannot read takes nothing (the
// networked ones run the same cases in postgres-cases.ts and redis-unreadable.test.ts).
const sqlite = useSqliteFiles("claim-unreadable");

describe("MemoryPersistenceProvider claim() that rejects", () => {
  describeRejectedClaim((codec) => new MemoryPersistenceProvider({ codec }));
  describeUnreadableLeftAlone((codec) => new MemoryPersistenceProvider({ codec }));
});

describe("SqlitePersistenceProvider claim() that rejects", () => {
  describeRejectedClaim((codec) => new SqlitePersistenceProvider({ database: sqlite.open(), codec }));
  describeUnreadableLeftAlone((codec) => new SqlitePersistenceProvider({ database: sqlite.open(), codec }));
});
