import { describe, expect, it } from "vitest";
import { pageRange, gridGeometry, gridHeight, pagesOf, scrollToShow, tileOffset, visibleRange } from "./virtualgrid";

describe("virtual grid", () => {
  const g = gridGeometry(300, 96, 16, 4); // (300 + 4) / 100 → 3 columns of 97 px
  it("fits as many columns as the width allows, at least one", () => {
    expect(g).toEqual({ columns: 3, tileWidth: 97, rowHeight: 117 });
    expect(gridGeometry(40, 96, 16, 4).columns).toBe(1);
    expect(gridGeometry(1000, 48, 16, 4).columns).toBe(19);
  });

  it("shows only the rows in view, plus the overscan rows", () => {
    // 100k tiles: a viewport 400 px high at row 1000 shows rows 1000 … 1003 (+1 above and below)
    const top = 1000 * g.rowHeight;
    expect(visibleRange(top, 400, 100_000, g, 1)).toEqual({ start: 999 * 3, end: 1005 * 3 });
    expect(visibleRange(top + 10, 400, 100_000, g, 0)).toEqual({ start: 3000, end: 3012 });
    expect(visibleRange(0, 400, 5, g, 1)).toEqual({ start: 0, end: 5 });
    expect(visibleRange(0, 400, 0, g)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(0, 0, 10, g)).toEqual({ start: 0, end: 0 });
    expect(gridHeight(100_000, g)).toBe(33_334 * 117);
  });

  it("the page a user sees holds the rows at least half in view", () => {
    // 400 px show rows 0, 1, 2 wholly and 49 of row 3's 117 px: less than half, not marked
    expect(pageRange(0, 400, 100, g)).toEqual({ start: 0, end: 9 });
    // scrolled by 50: row 0 shows 67 px (more than half), row 3 shows 99 px: both marked
    expect(pageRange(50, 400, 100, g)).toEqual({ start: 0, end: 12 });
    // scrolled by 70: row 0 shows 47 px (less than half): rows 1 … 3
    expect(pageRange(70, 400, 100, g)).toEqual({ start: 3, end: 12 });
    expect(pageRange(0, 50, 100, g)).toEqual({ start: 0, end: 3 }); // lower than half a row: its top row
    expect(pageRange(0, 400, 4, g)).toEqual({ start: 0, end: 4 });
  });

  it("lists the pages a range of tiles falls in", () => {
    expect(pagesOf(0, 0, 100)).toEqual([]);
    expect(pagesOf(95, 205, 100)).toEqual([0, 1, 2]);
    expect(pagesOf(100, 200, 100)).toEqual([1]);
  });

  it("places tiles by row and column", () => {
    expect(tileOffset(0, g, 4)).toEqual({ left: 0, top: 0 });
    expect(tileOffset(5, g, 4)).toEqual({ left: 2 * 101, top: 117 });
  });

  it("scrolls as little as needed to show a tile", () => {
    expect(scrollToShow(4, 0, 400, g)).toBe(0); // row 1 is visible
    expect(scrollToShow(30, 0, 400, g)).toBe(11 * 117 - 400); // row 10 ends at 11 rows
    expect(scrollToShow(0, 500, 400, g)).toBe(0);
  });
});
