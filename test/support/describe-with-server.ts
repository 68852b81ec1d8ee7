import { describe, it } from "vitest";
import type { ServerSkipped, ThrowawayServer } from "./throwaway-server.js";

/**
 * Registers `suite` under `title` with the started server, or, when it could not start, one skipped
 * test (and a warning, since the default reporter does not print skipped titles) saying how to enable it.
 */
export function describeWithServer(title: string, server: ThrowawayServer | ServerSkipped, suite: (server: ThrowawayServer) => void): void {
  if ("skipped" in server) console.warn(`${title} skipped: ${server.skipped}`);
  describe(title, () => {
    if ("skipped" in server) it.skip(`skipped: ${server.skipped}`, () => {});
    else suite(server);
  });
}
