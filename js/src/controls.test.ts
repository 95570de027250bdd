import { describe, expect, it } from "vitest";
import { colorChoice } from "./controls";

describe("color menu", () => {
  it("shows the column colored by, or one color", () => {
    expect(colorChoice({ kind: "none" })).toBe("");
    expect(colorChoice({ kind: "label", column: "label", missing: 3 })).toBe("label");
    expect(colorChoice({ kind: "continuous", column: "mag_r", min: 1, max: 2, missing: 0 })).toBe("mag_r");
  });
});
