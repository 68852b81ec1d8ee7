import { describe, expect, it } from "vitest";
import { parseCommand } from "../../src/cli/args.js";
import { isLoopback } from "../../src/inspector/options.js";

const ui = (...flags: string[]) => {
  const command = parseCommand(["ui", "--sqlite", "app.db", ...flags]);
  if (command.kind !== "ui") throw new Error(`parsed as ${command.kind}`);
  return command.ui;
};
const refusal = (...flags: string[]): unknown => {
  try {
    return ui(...flags);
  } catch (error) {
    return error;
  }
};

describe("workflowforge ui options", () => {
  it("serves read-only on 127.0.0.1:4380 by default", () => {
    expect(ui()).toEqual({ port: 4380, host: "127.0.0.1", allowActions: false, maxAttempts: 3 });
  });

  it("takes --port (0 picks a free one), --allow-actions and --max-attempts", () => {
    expect(ui("--port", "0", "--allow-actions", "--max-attempts", "5")).toEqual({ port: 0, host: "127.0.0.1", allowActions: true, maxAttempts: 5 });
  });

  it("accepts loopback hosts: 127.0.0.0/8, ::1 and localhost", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) expect(ui("--host", host).host).toBe(host);
    expect(isLoopback("10.0.0.1")).toBe(false);
  });

  it("refuses a non-loopback --host unless --unsafe-expose is given", () => {
    for (const host of ["0.0.0.0", "192.168.1.10", "::"]) {
      expect(refusal("--host", host)).toMatchObject({ code: "USAGE", message: expect.stringContaining(`--host ${host} is not a loopback address`) });
      expect(ui("--host", host, "--unsafe-expose").host).toBe(host);
    }
  });

  it("refuses a host name, a bad port and a bad --max-attempts, naming the flag", () => {
    expect(refusal("--host", "example.com")).toMatchObject({ code: "USAGE", message: expect.stringContaining('--host "example.com" is not an IP address') });
    expect(refusal("--port", "65536")).toMatchObject({ code: "USAGE", message: expect.stringContaining('--port "65536" is not a whole number from 0 to 65535') });
    expect(refusal("--port", "http")).toMatchObject({ code: "USAGE", message: expect.stringContaining("--port") });
    expect(refusal("--max-attempts", "0")).toMatchObject({ code: "USAGE", message: expect.stringContaining("--max-attempts") });
  });

  it("keeps its flags to ui", () => {
    expect(() => parseCommand(["list", "--sqlite", "app.db", "--allow-actions"])).toThrow("--allow-actions does not apply to list (only to ui)");
  });
});
