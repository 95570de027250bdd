import { describe, expect, it } from "vitest";
import { skyLinks } from "./links";

describe("links out by sky position", () => {
  it("point the Legacy Survey viewer and SIMBAD at the position, every value encoded", () => {
    const [legacy, simbad] = skyLinks(150.1, -2.25);
    expect(legacy.href).toBe("https://www.legacysurvey.org/viewer?ra=150.100000&dec=-2.250000&layer=ls-dr10&zoom=16");
    const url = new URL(simbad.href);
    expect(url.origin + url.pathname).toBe("https://simbad.cds.unistra.fr/simbad/sim-coo");
    expect(url.searchParams.get("Coord")).toBe("150.100000 -2.250000");
    expect(url.searchParams.get("Radius")).toBe("5");
    expect(simbad.href).toContain("Coord=150.100000+-2.250000");
  });

  it("encode a positive declination's sign", () => {
    const [legacy, simbad] = skyLinks(0, 2);
    expect(legacy.href).toContain("dec=%2B2.000000");
    expect(new URL(simbad.href).searchParams.get("Coord")).toBe("0.000000 +2.000000");
  });

  it("give no link for a position off the sky", () => {
    expect(skyLinks(Number.NaN, 0)).toEqual([]);
    expect(skyLinks(10, 91)).toEqual([]);
    expect(skyLinks(-1, 0)).toEqual([]);
  });
});
