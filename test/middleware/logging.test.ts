import { describe, it, expect } from "vitest";
import { createFoundry, isSuspended, loggingMiddleware, sleep } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { rejectionOf } from "../support/promises.js";
import { recordingLogger } from "../support/recording-logger.js";

describe("loggingMiddleware", () => {
  it("logs each operation's start and completion through the foundry's logger", async () => {
    const logger = recordingLogger();
    const foundry = createFoundry("orders", { logger }).use(loggingMiddleware()).withOperation("reserve", () => 1);

    await expect(foundry.forge()).resolves.toBe(1);
    expect(logger.debug).toHaveBeenCalledWith('orders #0 "reserve" started');
    expect(logger.info).toHaveBeenCalledWith('orders #0 "reserve" completed');
    expect(logger.error).not.toHaveBeenCalled();
  });

  it("logs a failure with its error and rethrows it", async () => {
    const logger = recordingLogger();
    const boom = new Error("boom");
    const foundry = createFoundry("orders", { logger })
      .use(loggingMiddleware())
      .withOperation("charge", () => {
        throw boom;
      });

    await expect(foundry.forge()).rejects.toMatchObject({ cause: boom });
    expect(logger.error).toHaveBeenCalledWith('orders #0 "charge" failed', boom);
    expect(logger.info).not.toHaveBeenCalled();
  });

  it("logs a suspension at info as a suspension, not as a failure", async () => {
    const logger = recordingLogger();
    const foundry = createFoundry("onboard", { executionId: "u-2", logger }).use(loggingMiddleware()).addOperation(sleep("cool-off", 86_400_000));
    usePersistence(foundry, new MemoryPersistenceProvider());

    const error = await rejectionOf(foundry.forge());
    expect(isSuspended(error)).toBe(true);
    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.info).toHaveBeenCalledWith('onboard #0 "cool-off" suspended', error);
  });
});

describe("loggingMiddleware with a logger that throws", () => {
  // A closed transport: every method throws, or returns a rejected promise.
  const brokenLogger = (how: "throws" | "rejects") => {
    const fail = how === "throws" ? () => { throw new Error("transport closed"); } : () => Promise.reject(new Error("transport closed"));
    return { debug: fail, info: fail, warn: fail, error: fail };
  };

  for (const how of ["throws", "rejects"] as const) {
    it(`changes no outcome when the logger ${how}: a completed operation stays completed, a failure keeps its error`, async () => {
      const charged: string[] = [];
      const ok = createFoundry("orders", { logger: brokenLogger(how) }).use(loggingMiddleware()).withOperation("charge", () => (charged.push("charge"), "ch_1"));
      await expect(ok.forge()).resolves.toBe("ch_1");
      expect(charged).toEqual(["charge"]);

      const boom = new Error("card declined");
      const failing = createFoundry("orders", { logger: brokenLogger(how) })
        .use(loggingMiddleware())
        .withOperation("charge", () => {
          throw boom;
        });
      await expect(failing.forge()).rejects.toMatchObject({ code: "OPERATION_FAILED", cause: boom });
    });
  }

  it("refuses an argument, such as a logger that would be ignored, with a TypeError saying where the logger goes", () => {
    expect(() => (loggingMiddleware as (...args: unknown[]) => unknown)(console)).toThrow("loggingMiddleware() takes no argument: it logs through the foundry's logger (createFoundry(name, { logger }))");
  });
});
