import { describe, expect, it } from "vitest";
import { createFoundry } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { recordingLogger } from "../support/recording-logger.js";

describe("a persisted foundry no other process could resume", () => {
  it("warns once through the foundry's logger when neither instanceId nor executionId was given", () => {
    const logger = recordingLogger();
    const foundry = createFoundry("Orders", { logger });
    usePersistence(foundry, new MemoryPersistenceProvider());
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(String(logger.warn.mock.calls[0]?.[0])).toMatch(/generated executionId and no instanceId.*pass options\.instanceId/);
  });

  it("stays silent when instanceId or a fixed executionId makes the run resumable", () => {
    const logger = recordingLogger();
    usePersistence(createFoundry("Orders", { logger }), new MemoryPersistenceProvider(), { instanceId: "order-1" });
    usePersistence(createFoundry("Orders", { logger, executionId: "order-2" }), new MemoryPersistenceProvider());
    expect(logger.warn).not.toHaveBeenCalled();
  });
});
