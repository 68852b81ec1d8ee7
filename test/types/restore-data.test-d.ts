import { describe, it, expectTypeOf } from "vitest";
import { createFoundry, createWorkflow, delegate, withRestoreData } from "../../src/index.js";

// restore receives what forge handed it with withRestoreData, not the wrapper (README: "restore (and
// the snapshot) receive data"); without withRestoreData, the output itself.
describe("the type restore receives", () => {
  it("is a withRestoreData result's data", () => {
    const reserve = () => withRestoreData("reserved", { reservationId: "R-1" });
    createWorkflow("trip").withOperation("reserve", reserve, (saved) => expectTypeOf(saved).toEqualTypeOf<{ reservationId: string }>());
    createFoundry("trip").withOperation("reserve", reserve, (saved) => {
      expectTypeOf(saved.reservationId).toBeString();
      // @ts-expect-error the wrapper's fields are not what restore gets
      void saved.data;
    });
    delegate("reserve", reserve, (saved) => expectTypeOf(saved).toEqualTypeOf<{ reservationId: string }>());
  });

  it("is the type parameter itself in a generic helper, as before", () => {
    const step = <T>(name: string, run: (input: T) => Promise<T>, undo: (output: T) => Promise<void>) => [delegate(name, run, undo), createWorkflow("generic").withOperation(name, run, undo)];
    void step;
  });

  it("is the output itself for a plain forge, an async one included", () => {
    createWorkflow("trip").withOperation("charge", () => Promise.resolve({ chargeId: "C-1" }), (charge) => expectTypeOf(charge).toEqualTypeOf<{ chargeId: string }>());
  });
});
