import { describe, expect, it, test } from "vitest";
import {
  categoryColor,
  categoryColors,
  colorList,
  DEFAULT_POINT_COLOR,
  formatNumber,
  largerCodes,
  MISSING_COLOR,
  OTHER_LABEL_COLOR,
  PALETTE,
  pointCodes,
  UNLABELLED_COLOR,
  updateLabelColors,
  viridis,
} from "./colors";
import type { ColorMeta } from "./protocol";

const continuous: ColorMeta = { kind: "continuous", column: "v", min: 0, max: 1, missing: 1 };
const categorical: ColorMeta = { kind: "categorical", column: "kind", categories: ["a", "b", "c"], missing: 1 };
const byLabel: ColorMeta = { kind: "label", column: "label", missing: 0 };
const none: ColorMeta = { kind: "none" };

describe("color maps", () => {
  it("runs viridis from purple to yellow", () => {
    const colors = viridis(5);
    expect(colors).toHaveLength(5);
    expect(colors[0]).toBe("#440154");
    expect(colors[4]).toBe("#fde725");
    expect(colors.every((c) => /^#[0-9a-f]{6}$/.test(c))).toBe(true);
  });

  it("lists one color per code: 255 viridis bins then grey for missing code 255", () => {
    expect(colorList(none, [])).toEqual([DEFAULT_POINT_COLOR]);
    const steps = colorList(continuous, []);
    expect(steps).toHaveLength(256);
    expect(steps[0]).toBe("#440154");
    expect(steps[254]).toBe("#fde725");
    expect(steps[255]).toBe(MISSING_COLOR);
    expect(colorList(categorical, [])).toEqual([PALETTE[0], PALETTE[1], PALETTE[2], MISSING_COLOR]);
    expect(colorList(byLabel, ["ring", "other"])).toEqual([UNLABELLED_COLOR, PALETTE[0], PALETTE[1], OTHER_LABEL_COLOR]);
  });
});

describe("point codes", () => {
  const labels = new Uint8Array(5);

  it("passes continuous bins and the missing code through", () => {
    const codes = pointCodes(continuous, new Uint8Array([0, 127, 254, 255, 3]), labels, 0);
    expect(Array.from(codes)).toEqual([0, 127, 254, 255, 3]);
  });

  it("passes category codes through and sends missing and unknown ones to the missing color", () => {
    const codes = pointCodes(categorical, new Uint8Array([0, 2, 255, 9, 1]), labels, 0);
    expect(Array.from(codes)).toEqual([0, 2, 3, 3, 1]);
  });

  it("colors by the label codes the page holds, and updates only what changed", () => {
    const held = new Uint8Array([0, 1, 2, 255, 0]);
    const codes = pointCodes(byLabel, null, held, 2);
    expect(Array.from(codes)).toEqual([0, 1, 2, 3, 0]);
    held[4] = 2;
    held[0] = 1;
    updateLabelColors(codes, new Uint32Array([4]), held, 2);
    expect(Array.from(codes)).toEqual([0, 1, 2, 3, 2]);
  });

  it("gives every point code 0 without a color column", () => {
    expect(Array.from(pointCodes(none, null, new Uint8Array(3), 0))).toEqual([0, 0, 0]);
  });
});

describe("formatNumber", () => {
  it("keeps three significant digits and switches to exponents at the extremes", () => {
    expect(formatNumber(0.123456)).toBe("0.123");
    expect(formatNumber(42)).toBe("42");
    expect(formatNumber(123456)).toBe("1.23e+5");
    expect(formatNumber(0.0001234)).toBe("1.23e-4");
    expect(formatNumber(0)).toBe("0");
  });
});

describe("one color per class everywhere", () => {
  test("a category named like a class has the class's color; the others never take a class's", () => {
    const colors = categoryColors(["edge-on", "ring", "spiral"], ["ring", "not ring"]);
    expect(colors[1]).toBe(categoryColor(0)); // "ring": as the label bar's first class
    expect(colors[0]).not.toBe(categoryColor(0));
    expect(colors[0]).not.toBe(categoryColor(1)); // "not ring"'s color is kept for it
    expect(colors[2]).not.toBe(categoryColor(1));
    expect(new Set(colors).size).toBe(3);
    expect(categoryColors(["a", "b"], [])).toEqual([PALETTE[0], PALETTE[1]]);
  });

  test("labelled codes are drawn larger only when coloring by label", () => {
    expect(largerCodes(byLabel, ["ring", "not ring"])).toEqual([1, 2, 3]);
    expect(largerCodes(none, ["ring"])).toEqual([]);
  });
});
