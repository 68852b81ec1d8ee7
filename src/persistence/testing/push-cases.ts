import assert from "node:assert/strict";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { ConformanceCase } from "./cases.js";
import { waitCase } from "./due-cases.js";
import { deliveredEvent, waitingSnapshot } from "./fixtures.js";

// Push (capability `push`): subscribe() tells a listener of deliveries that marked a record due.
// Each case waits for the listener's call itself, so a provider that never calls fails by the
// case's timeout, and never on a wall-clock margin.

interface Listening {
  readonly listener: () => void;
  /** Resolves at the listener's first call. */
  readonly called: Promise<void>;
  readonly calls: () => number;
}

function listening(): Listening {
  let calls = 0;
  let resolve: () => void = () => undefined;
  const called = new Promise<void>((settle) => (resolve = settle));
  return {
    listener: () => {
      calls++;
      resolve();
    },
    called,
    calls: () => calls,
  };
}

// Saves a record waiting for "approved" and delivers its event through `through`.
async function wakeOne(provider: WorkflowPersistenceProvider, through: WorkflowPersistenceProvider, workflowName: string): Promise<void> {
  const waiting = waitingSnapshot({ workflowName, waitingFor: "approved" });
  await provider.save(waiting);
  assert.equal(await through.deliver!(deliveredEvent(waiting)), true);
}

export const pushCases: ConformanceCase[] = [
  waitCase("push", "subscribe() calls the listener when a delivery marks a waiting record due", async (provider, workflowName) => {
    assert.equal(typeof provider.subscribe, "function", "a provider declaring push implements subscribe()");
    await assert.rejects(Promise.resolve().then(() => provider.subscribe!(() => undefined, AbortSignal.abort(new Error("conformance abort")))), "subscribe() with an aborted signal");
    const { listener, called } = listening();
    const stop = await provider.subscribe!(listener);
    try {
      await wakeOne(provider, provider, workflowName);
      await called;
    } finally {
      await stop();
    }
  }),
  waitCase("push", "once stop() resolves the listener is not called again, not even for a delivery on its way: a later delivery reaches a second listener only", async (provider, workflowName) => {
    const first = listening();
    const stopFirst = await provider.subscribe!(first.listener);
    await wakeOne(provider, provider, workflowName);
    await first.called;
    // Stopped at once after a delivery, whose notification may still be on its way to this listener.
    await wakeOne(provider, provider, workflowName);
    await stopFirst();
    const callsAtStop = first.calls();
    const second = listening();
    const stopSecond = await provider.subscribe!(second.listener);
    try {
      await wakeOne(provider, provider, workflowName);
      await second.called;
    } finally {
      await stopSecond();
    }
    assert.equal(first.calls(), callsAtStop, "a listener was called after its stop() resolved");
  }),
  waitCase(
    "push",
    "a delivery through a second provider object on the store reaches the first one's listener",
    async (provider, workflowName, hooks) => {
      const other = await hooks.reopen();
      const { listener, called } = listening();
      const stop = await provider.subscribe!(listener);
      try {
        await wakeOne(provider, other, workflowName);
        await called;
      } finally {
        await stop();
      }
    },
    ["reopen"],
  ),
];
