import type { Foundry } from "../foundry.js";
import { describe } from "../internal/validate.js";
import type { RecoveryCoordinatorOptions } from "../persistence/recovery/coordinator-options.js";
import type { Smith } from "../smith.js";
import { instrumentFoundry, isInstrumented } from "./instrument-foundry.js";
import { instrumentRecovery, isInstrumentedRecovery } from "./instrument-recovery.js";
import { instrumentSmith } from "./instrument-smith.js";
import { resolveTelemetry, type TelemetryOptions } from "./telemetry.js";

export type { TelemetryOptions } from "./telemetry.js";

/**
 * Traces and measures every run of `target` through the OpenTelemetry API: a span per run and per
 * operation, compensation and restores, metrics. A foundry gets one operation middleware (add it
 * before `usePersistence` so that each operation's span covers its checkpoint); a smith gets one
 * workflow middleware and instruments each foundry it runs. Returns `target`.
 *
 * With no SDK registered, spans and metrics are the API's no-ops and a run records nothing.
 * Throws `TypeError` for another target, or a foundry or coordinator options instrumented twice.
 */
export function instrument<T extends Foundry<any> | Smith>(target: T, options?: TelemetryOptions): T;
/**
 * The recovery coordinator's options with every attempt traced: pass the result to
 * `createRecoveryCoordinator`. Each foundry it creates is instrumented, its smith is instrumented
 * (yours, when you give one, is changed in place), and dead letters are counted.
 */
export function instrument(target: RecoveryCoordinatorOptions, options?: TelemetryOptions): RecoveryCoordinatorOptions;
export function instrument(target: Foundry<any> | Smith | RecoveryCoordinatorOptions, options?: TelemetryOptions): Foundry<any> | Smith | RecoveryCoordinatorOptions {
  const where = "instrument(target, options)";
  const telemetry = resolveTelemetry(options, where);
  if (isFoundry(target)) {
    if (isInstrumented(target)) throw new TypeError(`${where}: foundry "${target.name}" is already instrumented`);
    instrumentFoundry(target, telemetry);
    return target;
  }
  if (isSmith(target)) {
    instrumentSmith(target, telemetry);
    return target;
  }
  if (isCoordinatorOptions(target)) {
    // Wrapped twice, every dead letter would be counted twice.
    if (isInstrumentedRecovery(target)) throw new TypeError(`${where}: these coordinator options are already instrumented`);
    return instrumentRecovery(target, telemetry);
  }
  throw new TypeError(`${where}: target must be a foundry (createFoundry), a smith (createSmith) or the options of createRecoveryCoordinator, got ${describe(target)}`);
}

function isFoundry(value: unknown): value is Foundry<any> {
  const candidate = value as Partial<Foundry<any>> | null;
  return typeof candidate === "object" && candidate !== null && typeof candidate.withOperation === "function" && typeof candidate.use === "function";
}

function isSmith(value: unknown): value is Smith {
  const candidate = value as Partial<Smith> | null;
  return typeof candidate === "object" && candidate !== null && typeof candidate.forge === "function" && typeof candidate.use === "function" && typeof candidate.on === "function";
}

function isCoordinatorOptions(value: unknown): value is RecoveryCoordinatorOptions {
  const candidate = value as Partial<RecoveryCoordinatorOptions> | null;
  return typeof candidate === "object" && candidate !== null && typeof candidate.resolveWorkflow === "function" && typeof candidate.provider === "object";
}
