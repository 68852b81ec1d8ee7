import { describe, it, expect } from "vitest";
import { createFoundry, loggingMiddleware } from "../../src/index.js";
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
});
