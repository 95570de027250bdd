import { describe, expect, it } from "vitest";
import {
  CONTINUOUS_STEPS,
  type ColorMeta,
  colorList,
  DEFAULT_POINT_COLOR,
  formatNumber,
  MISSING_COLOR,
  PALETTE,
  pointCodes,
  viridis,
} from "./colors";

const continuous: ColorMeta = { kind: "continuous", column: "v", min: 0, max: 1, missing: 1 };
const categorical: ColorMeta = {
  kind: "categorical",
  column: "kind",
  categories: ["a", "b", "c"],
  missing: 1,
};

describe("colour maps", () => {
  it("runs viridis from purple to yellow", () => {
    const colours = viridis(5);
    expect(colours).toHaveLength(5);
    expect(colours[0]).toBe("#440154");
    expect(colours[4]).toBe("#fde725");
    expect(colours.every((c) => /^#[0-9a-f]{6}$/.test(c))).toBe(true);
  });

  it("lists one colour per code with grey last for missing values", () => {
    expect(colorList({ kind: "none" })).toEqual([DEFAULT_POINT_COLOR]);
    const steps = colorList(continuous);
    expect(steps).toHaveLength(CONTINUOUS_STEPS + 1);
    expect(steps.at(-1)).toBe(MISSING_COLOR);
    expect(colorList(categorical)).toEqual([PALETTE[0], PALETTE[1], PALETTE[2], MISSING_COLOR]);
  });
});

describe("point codes", () => {
  it("bins continuous values and sends NaN to the missing code", () => {
    const values = new Float32Array([0, 0.5, 1, Number.NaN, 0.999]);
    const codes = pointCodes(continuous, values, 5);
    expect(Array.from(codes)).toEqual([
      0,
      CONTINUOUS_STEPS / 2,
      CONTINUOUS_STEPS - 1,
      CONTINUOUS_STEPS,
      CONTINUOUS_STEPS - 1,
    ]);
  });

  it("passes category codes through and clamps unknown ones to missing", () => {
    const codes = pointCodes(categorical, new Uint8Array([0, 2, 3, 9]), 4);
    expect(Array.from(codes)).toEqual([0, 2, 3, 3]);
  });

  it("gives every point code 0 without a colour column", () => {
    expect(Array.from(pointCodes({ kind: "none" }, null, 3))).toEqual([0, 0, 0]);
  });

  it("refuses values for the wrong number of points", () => {
    expect(() => pointCodes(categorical, new Uint8Array(2), 3)).toThrow(/2 points, expected 3/);
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
