// Toolbar: drag mode, what a lasso does (Add / Remove toggles, for touch screens and hosts that
// keep modifier keys), reset view, point size and opacity, "more like selection", count, the
// keyboard help and full screen.

import { element } from "./dom";
import type { LassoOp } from "./lasso";
import type { Mode } from "./protocol";

export interface ToolbarActions {
  mode(mode: Mode): void;
  /** A lasso without modifier keys now does `op`. */
  lassoOp(op: LassoOp): void;
  help(): void;
  fullscreen(): void;
  /** Show every galaxy again (the filter line's ×). */
  clearFilter(): void;
  reset(): void;
  pointSize(size: number): void;
  opacity(opacity: number): void;
  moreLike(): void;
  clear(): void;
}

const LASSO_OPS: [LassoOp, string, string][] = [
  ["add", "Add", "Lassos add to the selection (as with shift held); click again to turn off"],
  ["remove", "Remove", "Lassos remove from the selection (as with alt held); click again to turn off"],
];

const MODES: [Mode, string, string][] = [
  ["lasso", "Lasso", "Drag to lasso-select (shift adds, alt/ctrl removes)"],
  ["box", "Box", "Drag a rectangle to select (shift adds, alt/ctrl removes)"],
  ["pan", "Pan", "Drag to pan; scroll zooms in every mode"],
];

export class Toolbar {
  readonly el = element("div", "gw-toolbar");
  private readonly modeButtons = new Map<Mode, HTMLButtonElement>();
  private readonly opButtons = new Map<LassoOp, HTMLButtonElement>();
  private op: LassoOp = "replace";
  private readonly sizeInput = slider(0.5, 12, 0.5);
  private readonly opacityInput = slider(0.05, 1, 0.05);
  private readonly count = element("span", "gw-count");
  /** The filter's line and its ×: shown over the map (the widget places it), so that the
   * toolbar does not reflow when a filter comes or goes. */
  readonly filterStatus = element("div", "gw-filter");
  private readonly filterText = element("span", "gw-filter-text");
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
    const ops = element("div", "gw-group gw-lasso-ops");
    for (const [op, label, hint] of LASSO_OPS) {
      const b = button(label, hint);
      b.classList.add("gw-lasso-op");
      b.dataset.op = op;
      b.addEventListener("click", () => {
        this.setLassoOp(this.op === op ? "replace" : op);
        actions.lassoOp(this.op);
      });
      this.opButtons.set(op, b);
      ops.append(b);
    }
    const reset = button("Reset view", "Zoom back out to all galaxies");
    reset.addEventListener("click", () => actions.reset());
    this.sizeInput.addEventListener("input", () => actions.pointSize(Number(this.sizeInput.value)));
    this.opacityInput.addEventListener("input", () =>
      actions.opacity(Number(this.opacityInput.value)),
    );
    this.moreLikeButton.addEventListener("click", () => actions.moreLike());
    this.clearButton.addEventListener("click", () => actions.clear());
    const help = button("?", "Keyboard shortcuts (?)");
    help.classList.add("gw-help-button");
    help.addEventListener("click", () => actions.help());
    const fullscreen = button("Full screen", "The widget alone on the screen (Esc leaves)");
    fullscreen.classList.add("gw-fullscreen-button");
    fullscreen.addEventListener("click", () => actions.fullscreen());
    this.el.append(
      modes,
      ops,
      reset,
      labelled("Size", this.sizeInput),
      labelled("Opacity", this.opacityInput),
      this.moreLikeButton,
      this.clearButton,
      this.count,
      help,
      fullscreen,
    );
    const clearFilter = button("×", "Show every galaxy again (as w.filter())");
    clearFilter.classList.add("gw-filter-clear");
    clearFilter.addEventListener("click", () => actions.clearFilter());
    this.filterStatus.append(this.filterText, clearFilter);
    this.filterStatus.hidden = true;
  }

  setMode(mode: Mode): void {
    for (const [m, b] of this.modeButtons) b.classList.toggle("gw-active", m === mode);
  }

  /** What a lasso without modifier keys does: replace, or add / remove (a toggle pressed). */
  setLassoOp(op: LassoOp): void {
    this.op = op;
    for (const [o, b] of this.opButtons) b.classList.toggle("gw-active", o === op);
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
    this.filterText.textContent = text;
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
