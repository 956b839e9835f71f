// The module TensorBoard loads in the tab's iframe; it calls `render()`. A
// report written by `epochjump export` inlines this module next to its data,
// and the module renders itself there.

import uplotCss from "uplot/dist/uPlot.min.css";
import { Dashboard } from "./app";
import { isReport } from "./embedded";
import styles from "./styles.css";
import { installTestHooks } from "./testhooks";

let dashboard: Dashboard | null = null;

export async function render(): Promise<void> {
  if (dashboard) return;
  const style = document.createElement("style");
  style.textContent = `${uplotCss}\n${styles}`;
  document.head.append(style);
  installTestHooks();
  dashboard = new Dashboard();
  document.body.append(dashboard.element);
  await dashboard.start();
}

if (isReport()) void render();
