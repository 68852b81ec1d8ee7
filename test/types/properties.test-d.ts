import { describe, it, expectTypeOf } from "vitest";
import { createFoundry, createWorkflow, type Foundry, type FoundryInit, type OperationContext } from "../../src/index.js";

interface Order {
  orderId: string;
}

describe("typed properties", () => {
  it("types foundry.properties as the P given to createFoundry", () => {
    const foundry = createFoundry<Order>("orders", { properties: { orderId: "A-1" } });
    expectTypeOf(foundry).toEqualTypeOf<Foundry<Order>>();
    expectTypeOf(foundry.properties).toEqualTypeOf<Order>();
    expectTypeOf(foundry.properties.orderId).toBeString();
  });

  it("infers P from init.properties", () => {
    const foundry = createFoundry("orders", { properties: { orderId: "A-1", reserved: false } });
    expectTypeOf(foundry.properties).toEqualTypeOf<{ orderId: string; reserved: boolean }>();
  });

  it("leaves init.properties optional whatever P requires: a resumed run restores the stored ones", () => {
    expectTypeOf(createFoundry<Order>("orders").properties).toEqualTypeOf<Order>();
    const forwarded = <P extends object>(name: string, init?: FoundryInit<P>): Foundry<P> => createFoundry<P>(name, init);
    expectTypeOf(forwarded<Order>("orders")).toEqualTypeOf<Foundry<Order>>();
  });

  it("takes an interface's foundry and contexts where the plain types are written, as extensions do", () => {
    const label = (foundry: Foundry, context: OperationContext): string => `${foundry.name} ${context.operation.name}`;
    const foundry = createFoundry<Order>("orders", { properties: { orderId: "A-1" } });
    foundry.use((context, next) => (label(foundry, context), next()));
    expectTypeOf(label).parameter(0).toEqualTypeOf<Foundry>();
  });

  it("rejects a wrong type in init.properties", () => {
    // @ts-expect-error orderId must be a string
    createFoundry<Order>("orders", { properties: { orderId: 42 } });
    // @ts-expect-error a key P does not have
    createFoundry<Order>("orders", { properties: { orderId: "A-1", total: 1 } });
  });

  it("rejects a wrong type assigned inside an operation", () => {
    createFoundry<Order>("orders", { properties: { orderId: "A-1" } }).withOperation("reserve", (_input, foundry) => {
      expectTypeOf(foundry).toEqualTypeOf<Foundry<Order>>();
      foundry.properties.orderId = "A-2";
      // @ts-expect-error orderId must be a string
      foundry.properties.orderId = 42;
      // @ts-expect-error a key P does not have
      foundry.properties.total = 1;
    });
  });

  it("types the foundry that operation middleware and restores see", () => {
    createFoundry<Order>("orders", { properties: { orderId: "A-1" } })
      .use((context, next) => {
        expectTypeOf(context).toEqualTypeOf<OperationContext<Order>>();
        // @ts-expect-error orderId must be a string
        context.foundry.properties.orderId = 42;
        return next();
      })
      .withOperation(
        "reserve",
        () => 1,
        (output, foundry) => {
          expectTypeOf(output).toEqualTypeOf<number>();
          // @ts-expect-error orderId must be a string
          foundry.properties.orderId = 42;
        },
      );
  });

  it("types the operations of a workflow created for P", () => {
    createWorkflow<Order>("orders").withOperation("reserve", (_input, foundry) => {
      expectTypeOf(foundry.properties).toEqualTypeOf<Order>();
      // @ts-expect-error orderId must be a string
      foundry.properties.orderId = 42;
    });
  });
});
