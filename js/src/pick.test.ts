import { describe, expect, it } from "vitest";
import { type Affine, affineFrom, nearestWithin, spreadTriple } from "./pick";

describe("picking the point under a click or tap", () => {
  const view: Affine = [200, 0, 300, 0, -200, 250]; // zoom 200 px per unit, y down, centred at (300, 250)
  const apply = ([a, b, c, d, e, f]: Affine, x: number, y: number): [number, number] => [a * x + b * y + c, d * x + e * y + f];

  it("recovers the view's affine map from three points", () => {
    const from: [number, number][] = [[0, 0], [1, 0.5], [-0.3, 0.8]];
    const map = affineFrom(from, from.map(([x, y]) => apply(view, x, y))) as Affine;
    map.forEach((v, i) => expect(v).toBeCloseTo(view[i], 9));
    expect(affineFrom([[0, 0], [1, 1], [2, 2]], [[0, 0], [1, 1], [2, 2]])).toBeNull();
  });

  it("chooses three points spread wide, not on one line", () => {
    const x = new Float32Array([0, 0.1, 1, 0.5, 0.2]);
    const y = new Float32Array([0, 0.1, 0, 1, 0.2]);
    expect(spreadTriple(x, y)).toEqual([0, 3, 2]);
    expect(spreadTriple(x.subarray(0, 2), y.subarray(0, 2))).toBeNull();
  });

  it("finds the nearest point within the radius, or none", () => {
    const x = new Float32Array([0, 0.02, 0.5]);
    const y = new Float32Array([0, 0, 0.5]);
    // (0, 0) → (300, 250); (0.02, 0) → (304, 250); (0.5, 0.5) → (400, 150)
    expect(nearestWithin(x, y, view, 303, 251, 5)).toBe(1);
    expect(nearestWithin(x, y, view, 301, 249, 5)).toBe(0);
    expect(nearestWithin(x, y, view, 398, 155, 6)).toBe(2);
    expect(nearestWithin(x, y, view, 350, 200, 6)).toBe(-1);
    expect(nearestWithin(x, y, view, 303, 251, 5, (p) => p !== 1)).toBe(0); // hidden points are skipped
  });

  it("agrees with a brute-force search on random points", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const x = Float32Array.from({ length: 2000 }, random);
    const y = Float32Array.from({ length: 2000 }, random);
    for (let t = 0; t < 50; t++) {
      const [px, py] = apply(view, random(), random());
      let best = -1;
      let bestD = 8;
      for (let k = 0; k < x.length; k++) {
        const [sx, sy] = apply(view, x[k], y[k]);
        const dist = Math.hypot(sx - px, sy - py);
        if (dist < bestD) [bestD, best] = [dist, k];
      }
      expect(nearestWithin(x, y, view, px, py, 8)).toBe(best);
    }
  });
});
