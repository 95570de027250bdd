import { describe, expect, it } from "vitest";
import type { Found } from "./protocol";
import { describeFound, formatArcsec } from "./search";

const base: Found = { query: "", match: "id", position: 3, id: "G3", completions: [], n_completions: 0, separation_arcsec: null, radius_arcsec: null };

describe("search box text", () => {
  it("names the galaxy found by id or by a unique prefix", () => {
    expect(describeFound({ ...base, query: "G3" })).toBe("G3");
    expect(describeFound({ ...base, query: "G", match: "prefix" })).toBe("G3");
  });

  it("says how far the galaxy found is from the sky position asked for", () => {
    const found = { ...base, match: "sky" as const, query: "150.1 2.2", separation_arcsec: 1.234 };
    expect(describeFound(found)).toBe("G3, 1.23″ from 150.1 2.2");
    expect(describeFound({ ...found, separation_arcsec: 4321.5 })).toBe("G3, 4,322″ from 150.1 2.2");
  });

  it("names the nearest galaxy when none lies within the search radius", () => {
    const found: Found = { ...base, match: "sky", query: "150.1 2.2", position: -1, id: "G7", separation_arcsec: 36.04, radius_arcsec: 5 };
    expect(describeFound(found)).toBe("nothing within 5.00″ of 150.1 2.2; nearest is G7 at 36.0″");
    expect(describeFound({ ...found, radius_arcsec: null })).toBe(
      "nothing within the search radius of 150.1 2.2; nearest is G7 at 36.0″",
    );
  });

  it("asks to pick a completion when many ids start with the text", () => {
    const found: Found = { ...base, match: "prefix", query: "J1", position: -1, id: null, completions: ["J10", "J11"], n_completions: 1234 };
    expect(describeFound(found)).toBe("1,234 ids start with “J1”: pick one");
  });

  it("formats arcsec with the precision that matters", () => {
    expect(formatArcsec(0.004)).toBe("0.00″");
    expect(formatArcsec(12.345)).toBe("12.3″");
    expect(formatArcsec(250.4)).toBe("250″");
  });
});
