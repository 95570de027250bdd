import { describe, expect, it } from "vitest";
import { polylinePoints, project } from "./overlay";
import type { Affine } from "./pick";

describe("overlay placement", () => {
  const view: Affine = [100, 0, 200, 0, -100, 150]; // x right, y up, origin at (200, 150)

  it("projects point space to canvas pixels", () => {
    expect(project(view, 0, 0)).toEqual([200, 150]);
    expect(project(view, 1, 1)).toEqual([300, 50]);
    expect(project(view, -0.5, -1)).toEqual([150, 250]);
  });

  it("draws an interleaved line as SVG points", () => {
    expect(polylinePoints(view, [0, 0, 1, 1, 0.25, -0.5])).toBe("200.0,150.0 300.0,50.0 225.0,200.0");
    expect(polylinePoints(view, [])).toBe("");
  });
});
