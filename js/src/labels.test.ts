import { describe, expect, it } from "vitest";
import { categoryColor } from "./colors";
import { isInterestMode, type KeyInput, keyAction, labelOf, reportText, walk } from "./labels";
import type { LabelMeta } from "./protocol";

const meta: LabelMeta = {
  classes: ["ring", "not ring"],
  keys: ["1", "2"],
  counts: [0, 0],
  labelled: 0,
  can_undo: false,
  can_redo: false,
  version: 0,
  read_only: false,
};
const none: LabelMeta = { ...meta, classes: [], keys: [], counts: [] };

function press(key: string, mods: Partial<KeyInput> = {}): KeyInput {
  return { key, shiftKey: false, ctrlKey: false, altKey: false, metaKey: false, ...mods };
}

describe("keyAction", () => {
  it("maps class keys, remove, undo and redo", () => {
    expect(keyAction(press("1"), meta, 3)).toEqual({ kind: "label", label: "ring" });
    expect(keyAction(press("2"), meta, 3)).toEqual({ kind: "label", label: "not ring" });
    expect(keyAction(press("3"), meta, 3)).toEqual({
      kind: "refuse",
      message: 'key 3 gives no class (1 ring, 2 not ring); interest scores need classes="interest"',
    });
    expect(keyAction(press("0"), meta, 3)).toEqual({ kind: "remove" });
    expect(keyAction(press("Backspace"), meta, 3)).toEqual({ kind: "remove" });
    expect(keyAction(press("z"), meta, 3)).toEqual({ kind: "undo" });
    expect(keyAction(press("Z", { shiftKey: true }), meta, 3)).toEqual({ kind: "redo" });
  });

  it("gives interest scores 0–5 in interest mode and refuses other digits", () => {
    const scores = ["0", "1", "2", "3", "4", "5"];
    const interest = { ...meta, classes: scores, keys: scores, counts: scores.map(() => 0) };
    expect(isInterestMode(interest)).toBe(true);
    expect(isInterestMode(meta)).toBe(false);
    expect(keyAction(press("0"), interest, 3)).toEqual({ kind: "label", label: "0" });
    expect(keyAction(press("5"), interest, 3)).toEqual({ kind: "label", label: "5" });
    expect(keyAction(press("Backspace"), interest, 3)).toEqual({ kind: "remove" });
    expect(keyAction(press("7"), interest, 3)).toEqual({
      kind: "refuse",
      message: "interest scores are 0–5: key 7 gives none",
    });
    expect(keyAction(press("z"), interest, 3)).toEqual({ kind: "undo" });
  });

  it("walks by one tile or one row and leaves modified keys alone", () => {
    expect(keyAction(press("ArrowRight"), meta, 3)).toEqual({ kind: "walk", step: 1 });
    expect(keyAction(press("ArrowUp"), meta, 3)).toEqual({ kind: "walk", step: -3 });
    expect(keyAction(press("1", { ctrlKey: true }), meta, 3)).toBeNull();
    expect(keyAction(press("z", { metaKey: true }), meta, 3)).toBeNull();
  });

  it("has no labelling keys when the labels are read-only", () => {
    const readOnly = { ...meta, read_only: true };
    expect(keyAction(press("1"), readOnly, 3)).toBeNull();
    expect(keyAction(press("z"), readOnly, 3)).toBeNull();
    expect(keyAction(press("ArrowRight"), readOnly, 3)).toEqual({ kind: "walk", step: 1 });
  });

  it("has no labelling keys without classes", () => {
    expect(keyAction(press("1"), none, 3)).toBeNull();
    expect(keyAction(press("z"), none, 3)).toBeNull();
    expect(keyAction(press("ArrowLeft"), none, 3)).toEqual({ kind: "walk", step: -1 });
  });
});

describe("walk", () => {
  it("starts at the first item and stays inside the list", () => {
    expect(walk(5, -1, 1)).toBe(0);
    expect(walk(5, -1, -1)).toBe(-1);
    expect(walk(5, 2, 1)).toBe(3);
    expect(walk(5, 4, 1)).toBe(4);
    expect(walk(5, 1, -3)).toBe(0);
    expect(walk(0, -1, 1)).toBe(-1);
  });
});

describe("labelOf", () => {
  it("names codes with the class colors", () => {
    expect(labelOf(0, meta)).toBeNull();
    expect(labelOf(2, meta)).toEqual({ name: "not ring", color: categoryColor(1) });
    expect(labelOf(255, meta)?.name).toBe("other");
  });
});

describe("reportText", () => {
  it("shows cross-validated accuracy and AUC with their spread, folds and labels per class", () => {
    const report = {
      accuracy: 0.8612,
      accuracy_std: 0.041,
      roc_auc: 0.9134,
      roc_auc_std: 0.03,
      n_folds: 5,
      labels_per_class: { ring: 79, "not ring": 79 },
    };
    expect(reportText(report)).toBe("accuracy 0.86 ± 0.04 · AUC 0.91 ± 0.03 (5 folds; ring 79, not ring 79)");
  });

  it("says nothing without a report or without metrics", () => {
    expect(reportText(null)).toBe("");
    const tooFew = { accuracy: null, accuracy_std: null, roc_auc: null, roc_auc_std: null, n_folds: 0, labels_per_class: { ring: 1 } };
    expect(reportText(tooFew)).toBe("");
  });
});
