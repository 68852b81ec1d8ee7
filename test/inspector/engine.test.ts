import { describe, expect, it } from "vitest";
import { createFoundry } from "../../src/foundry.js";
import { usePersistence } from "../../src/persistence/middleware.js";
import { raw, serve, sqliteFiles } from "./fixture.js";

const freshSqlite = sqliteFiles();

describe("the inspector on what a real run stored", () => {
  it("shows the timeline the engine recorded: the failing step executed once per run, and where it failed", async () => {
    const { spec, provider } = await freshSqlite();
    let failures = 2;
    const order = () => {
      const foundry = createFoundry("PlaceOrder", { properties: { placedAt: new Date("2026-01-02T03:04:05.000Z"), lines: new Map([["sku-1", 2n]]) } })
        .withOperation("reserve", () => "R-1")
        .withOperation("charge", () => {
          if (failures-- > 0) throw new Error("card declined");
          return "paid";
        })
        .withOperation("ship", () => "shipped");
      usePersistence(foundry, provider, { instanceId: "order-1" });
      return foundry;
    };
    await expect(order().forge()).rejects.toThrow("card declined");
    await expect(order().forge()).rejects.toThrow("card declined");
    const served = await serve(spec, provider, false, []);
    try {
      const body = (await raw(served.inspector.url, "GET", "/api/instance?instance=order-1&workflowKey=PlaceOrder")).json();
      expect(body.timeline.map((step: any) => [step.name, step.state, step.executions])).toEqual([
        [null, "done", 1],
        ["charge", "failed", 2],
        [null, "pending", 0],
      ]);
      const { startedAt, finishedAt } = body.timeline[1] as { startedAt: unknown; finishedAt: unknown };
      expect([startedAt, finishedAt]).toEqual([expect.stringMatching(/^\d{4}-\d\d-\d\dT/), expect.stringMatching(/^\d{4}-\d\d-\d\dT/)]);
      expect(Date.parse(finishedAt as string)).toBeGreaterThanOrEqual(Date.parse(startedAt as string));
      expect(Object.fromEntries(body.properties).placedAt).toEqual({ t: "date", v: "2026-01-02T03:04:05.000Z" });
    } finally {
      await served.close();
    }
  });
});
