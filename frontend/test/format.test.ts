// Numbers and names as the tab shows them. The expected strings are Python's
// (`f"{v:.4f}"`, `f"{v:.4e}"`, as Keras's progress bar prints) and the
// escapes of `epochjump.share.visible`, written out here.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  errorText,
  formatDuration,
  formatRate,
  formatValue,
  kerasSigned,
  kerasValue,
  visibleName,
} from "../src/format";

test("kerasValue prints 4 decimals, scientific at or below 1e-3", () => {
  assert.equal(kerasValue(0.89181), "0.8918");
  assert.equal(kerasValue(2.12705), "2.1271"); // Python: f"{2.12705:.4f}"
  assert.equal(kerasValue(1234.5), "1234.5000");
  assert.equal(kerasValue(0.0005), "5.0000e-04");
  assert.equal(kerasValue(0.001), "1.0000e-03");
  assert.equal(kerasValue(-6.0329e-4), "-6.0329e-04");
  assert.equal(kerasValue(0), "0.0000e+00");
  assert.equal(kerasValue(NaN), "NaN");
  assert.equal(kerasValue(null), "—");
});

test("signs are explicit on positive values only", () => {
  assert.equal(kerasSigned(0.2704), "+0.2704");
  assert.equal(kerasSigned(-0.0311), "-0.0311");
  assert.equal(kerasSigned(Infinity), "+∞");
});

test("errorText is the ± of an estimate, empty when unknown", () => {
  assert.equal(errorText(0.0329), "± 0.0329");
  assert.equal(errorText(0), "± 0.0000");
  assert.equal(errorText(NaN), "");
});

test("formatValue keeps 4 significant digits", () => {
  assert.equal(formatValue(0.123456), "0.1235");
  assert.equal(formatValue(1234567), "1.235e+6");
  assert.equal(formatValue(0.00001234), "1.234e-5");
  assert.equal(formatValue(-Infinity), "−∞");
  assert.equal(formatValue(0), "0");
});

test("durations and learning rates", () => {
  assert.equal(formatDuration(4.5), "4.5 s");
  assert.equal(formatDuration(42), "42 s");
  assert.equal(formatDuration(65), "1m 05s");
  assert.equal(formatDuration(3725), "1h 02m");
  assert.equal(formatRate(0.0005), "0.0005");
  assert.equal(formatRate(0.1), "0.1");
});

test("visibleName escapes invisible and bidi characters", () => {
  assert.equal(visibleName("run\u202egnp.exe"), "run\\u202egnp.exe");
  assert.equal(visibleName("loss\u2066\u200f"), "loss\\u2066\\u200f");
  assert.equal(visibleName("tab\there"), "tab\\u0009here");
  assert.equal(visibleName("tag\u{e0001}"), "tag\\U000e0001");
  assert.equal(visibleName("日本語 ✓ ünïcødé"), "日本語 ✓ ünïcødé");
});
