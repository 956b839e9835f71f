// Reading JSON values the server wrote: the helpers of the decoders generated
// from the Python answers (generated/contract.ts). Each reads a missing or
// wrong value as empty rather than failing.

export type Json = Record<string, unknown>;

/** Turns a JSON number or http_util's "NaN"/"Infinity"/"-Infinity" into a number. */
export function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return NaN;
}

export function numbers(value: unknown): number[] {
  return Array.isArray(value) ? value.map(toNumber) : [];
}

export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

export function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** A non-empty string, else null. */
export function textOrNull(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}

/** True only when the value is `true`. */
export function flag(value: unknown): boolean {
  return value === true;
}

/** An object's fields; {} for anything else (arrays included). */
export function asObject(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}

/** A `{key: text}` object's string values; {} for anything else. */
export function texts(value: unknown): Record<string, string> {
  return Object.fromEntries(
    Object.entries(asObject(value)).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
}

/** An array's items, each read by `decode`; [] for anything else. */
export function listOf<T>(value: unknown, decode: (item: unknown) => T): T[] {
  return Array.isArray(value) ? value.map(decode) : [];
}
