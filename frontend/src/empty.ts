// What the tab shows when no run holds epochjump data yet.

import { el } from "./dom";

const CODE = [
  "import epochjump",
  'cb = epochjump.EpochJumpCallback("logs/run1", train_eval_data=(x_train[:2048], y_train[:2048]))',
  "model.fit(x_train, y_train, epochs=10, validation_data=(x_val, y_val), callbacks=[cb])",
].join("\n");

export function createEmptyState(): HTMLElement {
  return el("section", { className: "ej-empty", testid: "empty-state" }, [
    el("h2", { text: "No epoch-jump data yet" }),
    el("p", {
      text:
        "Keras prints each epoch's metrics as a running mean over the epoch, so the first batch of the " +
        "next epoch often looks like a jump. Record per-batch values with the callback to see why:",
    }),
    el("pre", { className: "ej-code", testid: "empty-code" }, [el("code", { text: CODE })]),
    el("p", { text: "Then start TensorBoard on the log directory:" }),
    el("pre", { className: "ej-code" }, [el("code", { text: "tensorboard --logdir logs" })]),
  ]);
}
