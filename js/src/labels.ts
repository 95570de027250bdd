// Labelling: the label bar (class buttons with counts, remove, undo/redo, "saved" indicator,
// labelling the selection with an inline confirmation, suggestion strategy) and the pure
// keyboard mapping and list walking behind the keyboard shortcuts.

import { categoryColor, OTHER_LABEL_COLOR } from "./colors";
import { element } from "./dom";
import { type LabelMeta, type LearnState, UNLABELLED } from "./protocol";

export type KeyAction =
  | { kind: "label"; label: string }
  | { kind: "remove" }
  | { kind: "undo" }
  | { kind: "redo" }
  | { kind: "walk"; step: number }
  | { kind: "open" }
  | { kind: "view" }
  | { kind: "help" }
  | { kind: "refuse"; message: string };

const INTEREST_SCORES = ["0", "1", "2", "3", "4", "5"];

/** Whether the labels are interest scores 0–5 (Explorer(classes="interest")). */
export function isInterestMode(meta: LabelMeta): boolean {
  return meta.classes.join(",") === INTEREST_SCORES.join(",");
}

export interface KeyInput {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
}

/**
 * The labelling action of a key press, or null for keys the widget leaves alone.
 * `columns` is the number of tiles per panel row (up/down arrows move by a row).
 */
/**
 * The classifier's cross-validated quality as the label bar shows it, from `_learn.report`
 * (`learn.ModelReport.as_dict()`): "accuracy 0.86 ± 0.04 · AUC 0.91 ± 0.03 (5 folds; ring 79,
 * not ring 79)"; empty before there is a report with metrics.
 */
export function reportText(report: Record<string, unknown> | null): string {
  if (!report) return "";
  const metric = (name: string, value: unknown, spread: unknown): string =>
    typeof value === "number"
      ? `${name} ${value.toFixed(2)}${typeof spread === "number" ? ` ± ${spread.toFixed(2)}` : ""}`
      : "";
  const metrics = [
    metric("accuracy", report.accuracy, report.accuracy_std),
    metric("AUC", report.roc_auc, report.roc_auc_std),
  ].filter((text) => text !== "");
  if (metrics.length === 0) return "";
  const counts = report.labels_per_class;
  const perClass =
    typeof counts === "object" && counts !== null
      ? Object.entries(counts).map(([name, count]) => `${name} ${String(count)}`)
      : [];
  const folds = typeof report.n_folds === "number" ? `${report.n_folds} folds` : "";
  const detail = [folds, perClass.join(", ")].filter((text) => text !== "").join("; ");
  return `${metrics.join(" · ")}${detail ? ` (${detail})` : ""}`;
}

/** What the label bar says when the label log can be read but not written. */
export const READ_ONLY = "read-only: labels are shown, not saved";

export function keyAction(event: KeyInput, meta: LabelMeta, columns: number): KeyAction | null {
  if (event.ctrlKey || event.altKey || event.metaKey) return null;
  const { key } = event;
  // "?" is shift+/ on most keyboards: shift is allowed for it.
  switch (key) {
    case "ArrowRight":
      return { kind: "walk", step: 1 };
    case "ArrowLeft":
      return { kind: "walk", step: -1 };
    case "ArrowDown":
      return { kind: "walk", step: columns };
    case "ArrowUp":
      return { kind: "walk", step: -columns };
    case "Enter":
      return { kind: "open" };
    case " ":
      return { kind: "view" };
    case "?":
      return { kind: "help" };
  }
  if (meta.classes.length === 0 || meta.read_only) return null;
  // A class's own key first: in interest mode "0" is the score 0 (classes never get "0").
  const i = meta.keys.indexOf(key);
  if (i >= 0) return { kind: "label", label: meta.classes[i] };
  if (key === "0" || key === "Backspace" || key === "Delete") return { kind: "remove" };
  if (key === "z" && !event.shiftKey) return { kind: "undo" };
  if (key === "Z" || (key === "z" && event.shiftKey)) return { kind: "redo" };
  if (/^[1-9]$/.test(key)) {
    const message = isInterestMode(meta)
      ? `interest scores are 0–5: key ${key} gives none`
      : `key ${key} gives no class (${meta.keys.map((k, j) => `${k} ${meta.classes[j]}`).join(", ")}); interest scores need classes="interest"`;
    return { kind: "refuse", message };
  }
  return null;
}

/** The keyboard shortcuts, as the `?` help lists them: [keys, what they do]. */
export function helpText(): [string, string][] {
  return [
    ["1 … 9", "label the focused galaxy (or the marked gallery tiles) with that class"],
    ["0 / Backspace", "remove its label"],
    ["z / shift+z", "undo / redo the last labelling"],
    ["← → ↑ ↓", "step through the neighbors, suggestions or gallery"],
    ["space", "large image of the focused galaxy (label keys and arrows work there)"],
    ["Enter", "show the focused galaxy's neighbors"],
    ["shift+drag / alt+drag", "lasso adds to / removes from the selection (or the toolbar's Add / Remove)"],
    ["shift+click", "add or remove one galaxy; ctrl/shift+click on tiles marks several"],
    ["Esc", "close this or the large image; else clear the selection"],
    ["?", "this help"],
  ];
}

/**
 * Position after moving `step` from `current` in a list of `length` items (-1: before the first).
 * Stays inside the list; a move from nowhere starts at the first item.
 */
export function walk(length: number, current: number, step: number): number {
  if (length === 0) return -1;
  if (current < 0) return step > 0 ? 0 : -1;
  return Math.min(length - 1, Math.max(0, current + step));
}

/** Name and color of a label code (null for unlabelled). */
export function labelOf(code: number, meta: LabelMeta): { name: string; color: string } | null {
  if (code === UNLABELLED) return null;
  const i = code - 1;
  if (i < meta.classes.length) return { name: meta.classes[i], color: categoryColor(i) };
  return { name: "other", color: OTHER_LABEL_COLOR };
}

export interface LabelBarActions {
  label(label: string | null): void;
  undo(): void;
  redo(): void;
  labelSelection(label: string | null): void;
  strategy(strategy: string): void;
}

const STRATEGIES: [string, string][] = [
  ["uncertainty", "most uncertain"],
  ["top", "most likely target"],
  ["active_search", "active search"],
  ["ei", "expected improvement"],
  ["anomalous", "most anomalous"],
  ["random", "random"],
];

export class LabelBar {
  readonly el = element("div", "gw-labelbar");
  private readonly classes = element("div", "gw-group gw-classes");
  private readonly removeButton = button("0 remove", "Remove the focused galaxy's label (0 or Backspace)");
  private readonly undoButton = button("↶ undo (z)", "Undo the last labelling (z)");
  private readonly redoButton = button("↷ redo (Z)", "Redo (shift+z)");
  private readonly saved = element("span", "gw-saved");
  private readonly selectionButton = button("Label selection as", "Give every selected galaxy this class");
  private readonly selectionClass = element("select", "gw-select");
  private readonly confirmBar = element("span", "gw-confirm");
  private readonly strategySelect = element("select", "gw-select gw-strategy");
  private readonly learn = element("span", "gw-learn");
  private meta: LabelMeta = {
    classes: [],
    keys: [],
    counts: [],
    labelled: 0,
    can_undo: false,
    can_redo: false,
    version: 0,
    read_only: false,
  };
  private selected = 0;

  constructor(
    private readonly actions: LabelBarActions,
    private readonly confirmOver: number,
  ) {
    this.removeButton.addEventListener("click", () => actions.label(null));
    this.undoButton.addEventListener("click", () => actions.undo());
    this.redoButton.addEventListener("click", () => actions.redo());
    this.selectionButton.addEventListener("click", () => this.labelSelection());
    for (const [value, text] of STRATEGIES) {
      const option = element("option", "", text);
      option.value = value;
      this.strategySelect.append(option);
    }
    this.strategySelect.addEventListener("change", () => actions.strategy(this.strategySelect.value));
    this.confirmBar.hidden = true;
    const strategy = element("label", "gw-labelled", "Suggest");
    strategy.append(this.strategySelect);
    this.el.append(
      this.classes,
      this.removeButton,
      this.undoButton,
      this.redoButton,
      this.saved,
      this.selectionButton,
      this.selectionClass,
      this.confirmBar,
      strategy,
      this.learn,
    );
    this.el.hidden = true;
  }

  update(meta: LabelMeta): void {
    const changedClasses = meta.classes.join("\n") !== this.meta.classes.join("\n");
    this.meta = meta;
    this.el.hidden = meta.classes.length === 0;
    if (changedClasses) this.buildClasses();
    const texts = this.classes.querySelectorAll<HTMLElement>(".gw-class-text");
    meta.classes.forEach((name, i) => {
      texts[i].textContent = `${meta.keys[i] ? `${meta.keys[i]} ` : ""}${name} (${meta.counts[i].toLocaleString("en-US")})`;
    });
    this.undoButton.disabled = meta.read_only || !meta.can_undo;
    this.redoButton.disabled = meta.read_only || !meta.can_redo;
    this.removeButton.disabled = meta.read_only;
    this.selectionButton.disabled = meta.read_only || this.selected === 0;
    for (const b of this.classes.querySelectorAll("button")) b.disabled = meta.read_only;
    if (meta.read_only) this.setSaved("error", READ_ONLY);
  }

  setSelected(count: number): void {
    this.selected = count;
    this.selectionButton.disabled = this.meta.read_only || count === 0;
    if (count === 0) this.confirmBar.hidden = true;
  }

  setStrategy(strategy: string): void {
    this.strategySelect.value = strategy;
  }

  setLearn(status: LearnState): void {
    this.learn.dataset.status = status.status;
    const quality = reportText(status.report);
    this.learn.textContent = quality ? `${status.message} · ${quality}` : status.message;
    this.learn.title = this.learn.textContent; // whole, where the bar is too narrow
  }

  /** "saving…" while the kernel writes, "saved ✓" once it confirmed, or why it failed. */
  setSaved(state: "saving" | "saved" | "error", reason = ""): void {
    this.saved.dataset.state = state;
    this.saved.textContent = state === "saving" ? "saving…" : state === "saved" ? "saved ✓" : reason;
    this.saved.title = state === "error" ? reason : "";
  }

  private buildClasses(): void {
    this.classes.replaceChildren(
      ...this.meta.classes.map((name, i) => {
        const b = button("", `Label the focused galaxy as ${name}`);
        b.classList.add("gw-class");
        b.dataset.class = name;
        const swatch = element("span", "gw-swatch");
        swatch.style.background = categoryColor(i);
        b.append(swatch, element("span", "gw-class-text"));
        b.addEventListener("click", () => this.actions.label(name));
        return b;
      }),
    );
    this.selectionClass.replaceChildren(
      ...this.meta.classes.map((name) => {
        const option = element("option", "", name);
        option.value = name;
        return option;
      }),
      Object.assign(element("option", "", "(no label)"), { value: "" }),
    );
  }

  private labelSelection(): void {
    const label = this.selectionClass.value || null;
    if (this.selected <= this.confirmOver) {
      this.actions.labelSelection(label);
      return;
    }
    const yes = button("Yes", "Apply to the whole selection");
    const no = button("Cancel", "Leave the labels as they are");
    const what = label === null ? "Remove the labels of" : "Label";
    const suffix = label === null ? "" : ` as ${label}`;
    const question = `${what} ${this.selected.toLocaleString("en-US")} galaxies${suffix}?`;
    yes.addEventListener("click", () => {
      this.confirmBar.hidden = true;
      this.actions.labelSelection(label);
    });
    no.addEventListener("click", () => {
      this.confirmBar.hidden = true;
    });
    yes.classList.add("gw-confirm-yes");
    this.confirmBar.replaceChildren(element("span", "gw-confirm-text", question), yes, no);
    this.confirmBar.hidden = false;
  }
}

function button(label: string, hint: string): HTMLButtonElement {
  const b = element("button", "gw-button", label);
  b.type = "button";
  b.title = hint;
  return b;
}
