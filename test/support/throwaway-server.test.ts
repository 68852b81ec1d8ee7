import { describe, expect, it } from "vitest";
import { serverSkipped } from "./throwaway-server.js";

describe("serverSkipped", () => {
  it("skips with the reason when servers are not required", () => {
    expect(serverSkipped("redis-server not found", {})).toEqual({ skipped: "redis-server not found" });
    expect(serverSkipped("redis-server not found", { WORKFLOWFORGE_REQUIRE_SERVERS: "0" })).toEqual({ skipped: "redis-server not found" });
  });

  it("fails, naming the reason, when .ci/run requires the servers", () => {
    expect(() => serverSkipped("PostgreSQL binaries not found", { WORKFLOWFORGE_REQUIRE_SERVERS: "1" })).toThrow(
      "PostgreSQL binaries not found (WORKFLOWFORGE_REQUIRE_SERVERS=1)",
    );
  });
});
