// Tiny DOM helpers. Data is always set as text, never parsed as HTML.

export interface ElementSpec {
  className?: string;
  text?: string;
  testid?: string;
  title?: string;
  attrs?: Record<string, string>;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  spec: ElementSpec = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (spec.className) node.className = spec.className;
  if (spec.text !== undefined) node.textContent = spec.text;
  if (spec.testid) node.dataset.testid = spec.testid;
  if (spec.title) node.title = spec.title;
  for (const [name, value] of Object.entries(spec.attrs ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A visible notice; `kind` picks the colour. */
export function notice(text: string, kind: "warning" | "error" | "info" = "warning"): HTMLElement {
  return el("div", { className: `ej-notice ej-notice-${kind}`, testid: "notice", attrs: { role: "status" } }, [
    el("span", { className: "ej-notice-icon", text: kind === "info" ? "i" : "!" }),
    el("span", { text }),
  ]);
}
