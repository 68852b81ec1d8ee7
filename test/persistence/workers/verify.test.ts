import { describe, it, expect } from "vitest";
import { STEPS, readSteps } from "./batch-workflow.js";
import { verifySteps } from "./verify.js";

// The many-workers tests rely on this checker; here it is shown to catch each kind of violation.
function log(lines: string[]): string {
  return lines.join("\n");
}

const clean = Array.from({ length: STEPS }, (_, i) => [`S a ${i} w1 ${i * 10}`, `E a ${i} w1 ${i * 10 + 5}`]).flat();

describe("verifySteps", () => {
  it("accepts a clean run", () => {
    expect(verifySteps(readSteps(log(clean)), ["a"], new Map())).toEqual([]);
  });

  it("accepts a step repeated after its worker was killed during it", () => {
    const lines = [...clean.slice(0, 6), "S a 3 w1 30", ...clean.slice(6).map((line) => line.replace("w1", "w2").replace(/ (\d+)$/, (_, t: string) => ` ${Number(t) + 1000}`))];
    expect(verifySteps(readSteps(log(lines)), ["a"], new Map([["w1", 32]]))).toEqual([]);
  });

  it("reports a step that never completed", () => {
    expect(verifySteps(readSteps(log(clean.slice(0, -1))), ["a"], new Map())).toEqual([`a: step ${STEPS - 1} never completed`]);
  });

  it("reports two owners running one instance at the same time", () => {
    const lines = [...clean, "S a 4 w2 42", "E a 4 w2 44"];
    expect(verifySteps(readSteps(log(lines)), ["a"], new Map())).toEqual(expect.arrayContaining([expect.stringMatching(/w2 started step 4 at 42 while w1 ran until 45/)]));
  });

  it("reports a repeat by a worker that was never killed", () => {
    const lines = [...clean, "S a 9 w1 200", "E a 9 w1 205"];
    expect(verifySteps(readSteps(log(lines)), ["a"], new Map())).toEqual([expect.stringMatching(/step 9 ran again after w1 ran it at 90/)]);
  });

  it("reports a repeat of a step its killed worker had checkpointed, the last step included", () => {
    const lines = [...clean, `C a ${STEPS} w1 96`, "S a 9 w2 500", "E a 9 w2 505"];
    expect(verifySteps(readSteps(log(lines)), ["a"], new Map([["w1", 400]]))).toEqual([expect.stringMatching(/step 9 ran again after w1/)]);
  });

  it("accepts a repeat of the last step when its killed worker never checkpointed it", () => {
    const lines = [...clean, "S a 9 w2 500", "E a 9 w2 505"];
    expect(verifySteps(readSteps(log(lines)), ["a"], new Map([["w1", 96]]))).toEqual([]);
  });

  it("reports a repeat when the killed worker had gone on to a later step", () => {
    const lines = [...clean, "S a 2 w2 500", "E a 2 w2 505"];
    expect(verifySteps(readSteps(log(lines)), ["a"], new Map([["w1", 400]]))).toEqual([expect.stringMatching(/step 2 ran again after w1/)]);
  });
});
