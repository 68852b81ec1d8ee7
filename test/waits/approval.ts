import { action, createWorkflow, waitForEvent, type Workflow } from "../../src/index.js";

// The approval workflow of issue 16's acceptance tests: reserve, wait for "approved", charge. Each
// step tells `seen` which instance ran it (the instance's id travels in the stored properties), and
// charge what its input was: the payload of the event the wait consumed.

/** What an approval instance carries in its properties, so each step knows whose it is. */
export interface ApprovalProperties {
  readonly instance: string;
}

/** Told of every execution of reserve and charge, with charge's input. */
export interface ApprovalSteps {
  readonly reserved: (instance: string) => void | Promise<void>;
  readonly charged: (instance: string, approval: unknown) => void | Promise<void>;
}

export const approvalEvent = "approved";

export function approvalWorkflow(seen: ApprovalSteps): Workflow<any> {
  return createWorkflow("approval")
    .withVersion("1")
    .addOperation(action("reserve", (_, foundry) => seen.reserved((foundry.properties as unknown as ApprovalProperties).instance)))
    .addOperation(waitForEvent("wait-for-approval", approvalEvent))
    // An action passes its input on: a run that completes outputs the payload it was approved with.
    .addOperation(action("charge", (approval: unknown, foundry) => seen.charged((foundry.properties as unknown as ApprovalProperties).instance, approval)))
    .build();
}

/** The payload sent to `instance`: what its charge step must receive, and only it. */
export const approvalOf = (instance: string): { instance: string; by: string } => ({ instance, by: `manager of ${instance}` });
