// Toolbar: drag mode, reset view, point size and opacity, "more like selection", count.

import { element } from "./dom";
import type { Mode } from "./protocol";

export interface ToolbarActions {
  mode(mode: Mode): void;
  reset(): void;
  pointSize(size: number): void;
  opacity(opacity: number): void;
  moreLike(): void;
  clear(): void;
}

const MODES: [Mode, string, string][] = [
  ["lasso", "Lasso", "Drag to lasso-select (shift adds, alt/ctrl removes)"],
  ["box", "Box", "Drag a rectangle to select (shift adds, alt/ctrl removes)"],
  ["pan", "Pan", "Drag to pan; scroll zooms in every mode"],
];

export class Toolbar {
  readonly el = element("div", "gw-toolbar");
  private readonly modeButtons = new Map<Mode, HTMLButtonElement>();
  private readonly sizeInput = slider(0.5, 12, 0.5);
  private readonly opacityInput = slider(0.05, 1, 0.05);
  private readonly count = element("span", "gw-count");
  private readonly filterStatus = element("span", "gw-filter");
  private readonly moreLikeButton = button("More like selection", "Find galaxies like the selection's mean");
  private readonly clearButton = button("Clear", "Clear the selection (Esc)");

  constructor(actions: ToolbarActions) {
    const modes = element("div", "gw-group gw-modes");
    for (const [mode, label, hint] of MODES) {
      const b = button(label, hint);
      b.dataset.mode = mode;
      b.addEventListener("click", () => actions.mode(mode));
      this.modeButtons.set(mode, b);
      modes.append(b);
    }
    const reset = button("Reset view", "Zoom back out to all galaxies");
    reset.addEventListener("click", () => actions.reset());
    this.sizeInput.addEventListener("input", () => actions.pointSize(Number(this.sizeInput.value)));
    this.opacityInput.addEventListener("input", () =>
      actions.opacity(Number(this.opacityInput.value)),
    );
    this.moreLikeButton.addEventListener("click", () => actions.moreLike());
    this.clearButton.addEventListener("click", () => actions.clear());
    this.el.append(
      modes,
      reset,
      labelled("Size", this.sizeInput),
      labelled("Opacity", this.opacityInput),
      this.moreLikeButton,
      this.clearButton,
      this.count,
      this.filterStatus,
    );
    this.filterStatus.hidden = true;
  }

  setMode(mode: Mode): void {
    for (const [m, b] of this.modeButtons) b.classList.toggle("gw-active", m === mode);
  }

  setPointSize(size: number): void {
    this.sizeInput.value = String(size);
  }

  setOpacity(opacity: number): void {
    this.opacityInput.value = String(opacity);
  }

  setCount(selected: number, total: number): void {
    this.count.textContent = `${selected.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} selected`;
    this.moreLikeButton.disabled = selected === 0;
    this.clearButton.disabled = selected === 0;
  }

  /** The filter's line ("" for none: hidden). */
  setFilter(text: string): void {
    this.filterStatus.textContent = text;
    this.filterStatus.hidden = text === "";
  }
}

function button(label: string, hint: string): HTMLButtonElement {
  const b = element("button", "gw-button", label);
  b.type = "button";
  b.title = hint;
  return b;
}

function slider(min: number, max: number, step: number): HTMLInputElement {
  const input = element("input", "gw-slider");
  input.type = "range";
  input.min = String(min);
  input.max = String(max);
  input.step = String(step);
  return input;
}

function labelled(text: string, input: HTMLInputElement): HTMLLabelElement {
  const label = element("label", "gw-labelled", text);
  label.append(input);
  return label;
}
