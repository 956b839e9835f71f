// Number formatting for what the server does not write: series values in the
// tooltip and the comparison's and validation note's numbers as Keras prints
// them (4 decimals), 4 significant digits on axis ticks. The jump answer's
// words and cells come written (`jumps`: `answer`, `text`, `detail`).

const DIGITS = 4;

/** `name` with its invisible and direction-changing characters (controls,
 * bidi overrides, zero-width marks: Unicode Cc, Cf, Zl, Zp) shown as `\u202e`
 * escapes, so two different names never look alike. The Python side
 * (`epochjump.share.visible`) shows them the same way. */
export function visibleName(name: string): string {
  return name.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => {
    const hex = (c.codePointAt(0) ?? 0).toString(16);
    return hex.length <= 4 ? `\\u${hex.padStart(4, "0")}` : `\\U${hex.padStart(8, "0")}`;
  });
}

/** A value with 4 significant digits; non-finite values spelled out. */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+∞";
  if (value === -Infinity) return "−∞";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  const text =
    abs >= 1e6 || abs < 1e-4 ? value.toExponential(DIGITS - 1) : value.toPrecision(DIGITS);
  return text.replace(/^-/, "−");
}

/** Seconds as "42.0 s", "3m 05s" or "1h 02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return formatValue(seconds);
  const sign = seconds < 0 ? "−" : "";
  const s = Math.abs(seconds);
  if (s < 60) return `${sign}${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (h > 0) return `${sign}${h}h ${String(m).padStart(2, "0")}m`;
  return `${sign}${m}m ${String(rest).padStart(2, "0")}s`;
}

/** Axis ticks for durations: as many decimals as the tick spacing needs. */
export function formatDurationTicks(ticks: number[], spacing: number): string[] {
  if (spacing >= 1 && ticks.every((t) => Math.abs(t) >= 60 || Number.isInteger(t))) {
    return ticks.map(formatDuration);
  }
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(spacing))));
  return ticks.map((t) => `${t.toFixed(decimals)} s`);
}

export function formatDateTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isFinite(date.getTime()) ? date.toLocaleString() : "—";
}

/** Python's `f"{v:.4e}"`: the exponent with a sign and at least two digits. */
function scientific(value: number): string {
  const [mantissa, exponent] = value.toExponential(4).split("e");
  const power = Number(exponent);
  return `${mantissa}e${power < 0 ? "-" : "+"}${String(Math.abs(power)).padStart(2, "0")}`;
}

/** A value as Keras's progress bar prints it: 4 decimals ("1.2278"), in
 * scientific notation at or below 1e-3 ("5.0000e-04"), as the server's
 * strings (`words.numbers.keras_value`), minus sign included; non-finite
 * values spelled out. */
export function kerasValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (!Number.isFinite(value)) return formatValue(value);
  return Math.abs(value) > 1e-3 ? value.toFixed(4) : scientific(value);
}

/** `kerasValue` with an explicit "+" on positive values. */
export function kerasSigned(value: number): string {
  const text = kerasValue(value);
  return value > 0 && Number.isFinite(value) ? `+${text}` : text;
}

/** The "± 0.0041" of an estimate; "" when its error is not finite. */
export function errorText(stderr: number): string {
  if (stderr === 0) return "± 0.0000"; // noiseless batches, as the server writes it
  return Number.isFinite(stderr) ? `± ${kerasValue(stderr)}` : "";
}

/** A learning rate as the sentences write it ("0.001", "0.0005"). */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return formatValue(value);
  return String(Number(value.toPrecision(4)));
}
