import { describe, expect, it } from "vitest";
import { TileMarks } from "./tilemarks";

const plain = { shiftKey: false, ctrlKey: false, metaKey: false };
const ctrl = { ...plain, ctrlKey: true };
const shift = { ...plain, shiftKey: true };

describe("tile marks", () => {
  it("a plain click marks nothing and clears the marks", () => {
    const marks = new TileMarks();
    expect(marks.click(3, plain)).toBe(false);
    expect(marks.size).toBe(0);
    marks.click(5, ctrl);
    expect(marks.click(7, plain)).toBe(true);
    expect(marks.indices()).toEqual([]);
  });

  it("ctrl-click toggles a tile, taking the current tile along the first time", () => {
    const marks = new TileMarks();
    marks.click(2, plain);
    marks.click(6, ctrl);
    expect(marks.indices()).toEqual([2, 6]);
    marks.click(9, { ...plain, metaKey: true });
    marks.click(2, ctrl);
    expect(marks.indices()).toEqual([6, 9]);
  });

  it("shift-click marks the range from the anchor, replacing the previous range only", () => {
    const marks = new TileMarks();
    marks.click(10, plain);
    marks.click(13, shift);
    expect(marks.indices()).toEqual([10, 11, 12, 13]);
    marks.click(8, shift); // the range is re-drawn from the same anchor
    expect(marks.indices()).toEqual([8, 9, 10]);
    marks.click(20, ctrl); // keeps 8 … 10, anchor now 20
    marks.click(22, shift);
    expect(marks.indices()).toEqual([8, 9, 10, 20, 21, 22]);
  });

  it("shift-click with no anchor toggles one tile; a page marks a range", () => {
    const marks = new TileMarks();
    marks.click(4, shift);
    expect(marks.indices()).toEqual([4]);
    marks.markRange(10, 13);
    expect(marks.indices()).toEqual([4, 10, 11, 12]);
    expect(marks.has(11)).toBe(true);
    marks.clear();
    expect(marks.size).toBe(0);
  });
});
