import {
  describe,
  rejectUnknownKeys,
  requireName,
  requireNonNegativeInteger,
  requireOptionalFunction,
  requireOptionsObject,
  requirePositiveInteger,
  requireTimerMs,
} from "../../internal/validate.js";
import type { CrashHarnessOptions } from "./crash-harness.js";

const what = "runCrashHarness(options)";
const known = ["command", "env", "logFile", "instances", "steps", "killDelayMs", "maxKillsPerInstance", "concurrency", "attemptTimeoutMs"];

function requireCommand(value: unknown): void {
  const strings = Array.isArray(value) && value.length > 0 && value.every((part) => typeof part === "string" && part !== "");
  if (!strings) throw new TypeError(`${what}: command must be a non-empty array of non-empty strings ([script, ...args]), got ${describe(value)}`);
}

function requireEnv(value: unknown): void {
  if (value === undefined) return;
  const strings = typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).every((entry) => typeof entry === "string");
  if (!strings) throw new TypeError(`${what}: env must be an object of strings, got ${describe(value)}`);
}

/**
 * Checks every option before a child starts: a NaN count would otherwise run no instance and
 * report a pass, and a misspelt option would silently take its default.
 */
export function requireCrashHarnessOptions(given: unknown): CrashHarnessOptions {
  if (given === undefined) throw new TypeError(`${what} must be an object, got undefined`);
  const options = requireOptionsObject(given, what);
  rejectUnknownKeys(options, known, what);
  requireCommand(options.command);
  requireEnv(options.env);
  requireName(options.logFile, `${what}: logFile`);
  requirePositiveInteger(options.instances, `${what}: instances`);
  if (options.steps !== undefined) requirePositiveInteger(options.steps, `${what}: steps`);
  requireOptionalFunction(options.killDelayMs, `${what}: killDelayMs`);
  if (options.maxKillsPerInstance !== undefined) requireNonNegativeInteger(options.maxKillsPerInstance, `${what}: maxKillsPerInstance`);
  if (options.concurrency !== undefined) requirePositiveInteger(options.concurrency, `${what}: concurrency`);
  if (options.attemptTimeoutMs !== undefined) requireTimerMs(options.attemptTimeoutMs, `${what}: attemptTimeoutMs`);
  return given as CrashHarnessOptions;
}
