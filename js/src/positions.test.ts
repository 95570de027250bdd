import { describe, expect, it } from "vitest";
import { samePositions, sortedPositions, toggled } from "./positions";

describe("position sets", () => {
  it("sorts numerically, drops duplicates and keeps sorted typed arrays as they are", () => {
    expect(Array.from(sortedPositions([100000, 9, 9, 10, 0]))).toEqual([0, 9, 10, 100000]);
    const canonical = new Uint32Array([1, 5, 70000]);
    expect(sortedPositions(canonical)).toBe(canonical);
    expect(Array.from(sortedPositions(new Uint32Array([5, 5, 1])))).toEqual([1, 5]);
  });

  it("compares sets", () => {
    expect(samePositions([1, 2, 3], new Uint32Array([3, 1, 2]))).toBe(true);
    expect(samePositions([1, 2], [1, 2, 3])).toBe(false);
    expect(samePositions([1, 4], [1, 2])).toBe(false);
    expect(samePositions([2, 2, 1], new Uint32Array([1, 2]))).toBe(true);
  });

  it("toggles one position in or out, keeping the order", () => {
    const set = new Uint32Array([2, 5, 9]);
    expect(Array.from(toggled(set, 5))).toEqual([2, 9]);
    expect(Array.from(toggled(set, 7))).toEqual([2, 5, 7, 9]);
    expect(Array.from(toggled(set, 0))).toEqual([0, 2, 5, 9]);
    expect(Array.from(toggled(set, 10))).toEqual([2, 5, 9, 10]);
    expect(Array.from(toggled(new Uint32Array(0), 3))).toEqual([3]);
  });
});
