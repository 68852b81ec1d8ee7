import { describe, expect, it } from "vitest";
import { Lanes } from "../../../src/persistence/recovery/lanes.js";

describe("Lanes", () => {
  it("runs up to its width, starts lanes again for those that returned when widened, and waits for those too", async () => {
    let [running, most, started] = [0, 0, 0];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const lanes = new Lanes(3, async () => {
      started++;
      most = Math.max(most, ++running);
      // The first lane holds; the others return at once, as lanes that found nothing more to claim.
      if (started === 1) await gate;
      running--;
    });
    const settled = lanes.settled();
    lanes.widen();
    // All three still count as running (the two that returned are settling): none more starts.
    expect(started).toBe(3);
    await new Promise((resolve) => setImmediate(resolve));
    lanes.widen();
    expect([started, most]).toEqual([5, 2]);
    let done = false;
    void settled.then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    release();
    await settled;
    expect(running).toBe(0);
  });

  it("starts nothing once settled() resolved: a wake then must not run lanes beside the next pass's", async () => {
    let started = 0;
    const lanes = new Lanes(2, () => Promise.resolve(void started++));
    await lanes.settled();
    lanes.widen();
    expect(started).toBe(2);
  });
});
