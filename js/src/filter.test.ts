import { describe, expect, it } from "vitest";
import { filterText, keepShown, shownOf } from "./filter";

describe("filter", () => {
  const meta = { mode: "hide", shown: 2, description: "mag in [14, 17]" } as const;

  it("has no mask without a filter and keeps every position", () => {
    expect(shownOf({ mode: "none", shown: 5, description: "" }, new Uint32Array(0), 5)).toBeNull();
    expect(Array.from(keepShown([4, 1, 3], null))).toEqual([4, 1, 3]);
  });

  it("keeps only the shown positions, in order", () => {
    const shown = shownOf(meta, Uint32Array.of(1, 3), 5);
    expect(Array.from(shown?.mask ?? [])).toEqual([0, 1, 0, 1, 0]);
    expect(Array.from(keepShown(Uint32Array.of(0, 1, 2, 3, 4), shown))).toEqual([1, 3]);
    expect(Array.from(keepShown([], shown))).toEqual([]);
  });

  it("says how many are shown and what happens to the others", () => {
    expect(filterText(meta, 12000)).toBe("2 of 12,000 shown (mag in [14, 17]; others hidden)");
    expect(filterText({ ...meta, mode: "dim" }, 5)).toContain("others dimmed");
    expect(filterText({ mode: "none", shown: 5, description: "" }, 5)).toBe("");
  });
});
