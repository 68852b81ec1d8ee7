import { describe, it, expect } from "vitest";
import { createWorkflow, type Operation } from "../src/index.js";

describe("createWorkflow", () => {
  it("builds a named, versioned workflow with its operations in order", () => {
    const restore = (): void => undefined;
    const workflow = createWorkflow("ProcessOrder")
      .withVersion("2")
      .withOperation("reserve", () => 1, restore)
      .addOperation({ name: "charge", forge: () => 2 })
      .build();

    expect(workflow.name).toBe("ProcessOrder");
    expect(workflow.version).toBe("2");
    expect(workflow.operations.map((op) => op.name)).toEqual(["reserve", "charge"]);
    expect(workflow.operations[0]).toHaveProperty("restore", restore);
    expect(workflow.operations[1]).not.toHaveProperty("restore");
  });

  it("gives the same id to the same name and version and different ids otherwise", () => {
    const build = (name: string, version?: string) => {
      const builder = createWorkflow(name).withOperation("a", () => 1);
      return (version === undefined ? builder : builder.withVersion(version)).build().id;
    };
    expect(build("Order", "1")).toBe(build("Order", "1"));
    expect(build("Order", "1")).not.toBe(build("Order", "2"));
    expect(build("Order", "1")).not.toBe(build("Other", "1"));
    expect(build("Order")).toBe("Order");
  });

  it("builds an immutable workflow that later builder calls do not change", () => {
    const builder = createWorkflow("Order").withOperation("a", () => 1);
    const workflow = builder.build();
    builder.withOperation("b", () => 2).withVersion("9");

    expect(workflow.operations.map((op) => op.name)).toEqual(["a"]);
    expect(workflow.version).toBeUndefined();
    expect(Object.isFrozen(workflow)).toBe(true);
    expect(() => (workflow.operations as Operation[]).push({ name: "c", forge: () => 3 })).toThrow(TypeError);
    expect(builder.build().operations.map((op) => op.name)).toEqual(["a", "b"]);
  });

  it.each([
    ["an empty name", () => createWorkflow("").build(), "createWorkflow(name)"],
    ["no operations", () => createWorkflow("Order").build(), "at least one operation"],
    ["an empty version", () => createWorkflow("Order").withVersion(""), "withVersion(version)"],
    ["a non-function forge", () => createWorkflow("Order").withOperation("x", 42 as any), "forge must be a function"],
    ["an operation without forge", () => createWorkflow("Order").addOperation({ name: "x" } as any), "forge must be a function"],
    ["an operation without a name", () => createWorkflow("Order").addOperation({ forge: () => 1 } as any), "operation.name"],
  ])("throws a TypeError naming the mistake for %s", (_, call, named) => {
    expect(call).toThrow(TypeError);
    expect(call).toThrow(named);
  });
});
