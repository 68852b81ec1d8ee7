const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof unitMs;

/** A duration as written on the command line (`7d`, for messages) and in milliseconds. */
export interface Duration {
  readonly text: string;
  readonly ms: number;
}

const durationPattern = /^(\d+)(ms|[smhdw])$/;
// Further back than this and `now - duration` leaves the range of a Date.
const maxDurationMs = 1_000 * 365 * unitMs.d;

/**
 * Milliseconds of a duration written as an integer and a unit: `500ms`, `30s`, `15m`, `2h`, `7d`, `2w`.
 * Undefined when the text is not one, so the caller can name the flag in its message.
 */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text.trim());
  if (match === null) return undefined;
  const ms = Number(match[1]) * unitMs[match[2] as Unit];
  return ms <= maxDurationMs ? ms : undefined;
}

/** A short, rounded-down age for tables: `45s`, `12m`, `5h`, `3d`. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  if (ms < 0) return "in the future";
  if (ms < unitMs.m) return `${Math.floor(ms / unitMs.s)}s`;
  if (ms < unitMs.h) return `${Math.floor(ms / unitMs.m)}m`;
  if (ms < 2 * unitMs.d) return `${Math.floor(ms / unitMs.h)}h`;
  return `${Math.floor(ms / unitMs.d)}d`;
}
