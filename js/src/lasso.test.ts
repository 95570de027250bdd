import { describe, expect, test } from "vitest";
import { combineSelection, lassoOp, pointsInPolygon } from "./lasso";

/**
 * regl-scatterplot 1.16's lasso hit test, verbatim but for names (`getBBox`, `isValidBBox` and
 * `isPointInPolygon` in its src/utils.js; `findPointsInLasso` in src/index.js, whose kdbush range
 * query is the inclusive bounding box): the rule `pointsInPolygon` must reproduce exactly.
 */
function reglLasso(x: Float32Array, y: Float32Array, polygon: number[]): number[] {
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let i = 0; i < polygon.length; i += 2) {
    xMin = polygon[i] < xMin ? polygon[i] : xMin;
    xMax = polygon[i] > xMax ? polygon[i] : xMax;
    yMin = polygon[i + 1] < yMin ? polygon[i + 1] : yMin;
    yMax = polygon[i + 1] > yMax ? polygon[i + 1] : yMax;
  }
  if (!(xMax - xMin > 0 && yMax - yMin > 0)) return [];
  const crossProduct = (x1: number, y1: number, x2: number, y2: number, px: number, py: number) =>
    (x2 - x1) * (py - y1) - (px - x1) * (y2 - y1);
  const inside: number[] = [];
  for (let p = 0; p < x.length; p++) {
    const px = x[p];
    const py = y[p];
    if (px < xMin || px > xMax || py < yMin || py > yMax) continue;
    let winding = 0;
    for (let i = 0, j = polygon.length - 2; i < polygon.length; i += 2) {
      const [x1, y1, x2, y2] = [polygon[i], polygon[i + 1], polygon[j], polygon[j + 1]];
      if (y1 <= py) {
        if (y2 > py && crossProduct(x1, y1, x2, y2, px, py) > 0) winding++;
      } else if (y2 <= py && crossProduct(x1, y1, x2, y2, px, py) < 0) winding--;
      j = i;
    }
    if (winding !== 0) inside.push(p);
  }
  return inside;
}

function points(xy: [number, number][]): { x: Float32Array; y: Float32Array } {
  return { x: Float32Array.from(xy, (p) => p[0]), y: Float32Array.from(xy, (p) => p[1]) };
}

/** Every point of a (2k+1)² grid over [-1.5, 1.5]², which hits vertices and edges of the shapes. */
function grid(k = 12): { x: Float32Array; y: Float32Array } {
  const xy: [number, number][] = [];
  for (let i = -k; i <= k; i++) for (let j = -k; j <= k; j++) xy.push([(1.5 * i) / k, (1.5 * j) / k]);
  return points(xy);
}

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const SQUARE = [-1, -1, 1, -1, 1, 1, -1, 1];
// A "C": the notch x > -0.25, -0.5 < y < 0.5 is outside.
const CONCAVE = [-1, -1, 1, -1, 1, -0.5, -0.25, -0.5, -0.25, 0.5, 1, 0.5, 1, 1, -1, 1];
const FIGURE_EIGHT = [-1, -1, 1, 1, 1, -1, -1, 1];
// Goes round the origin twice: the inner square is wound twice, the ring between once.
const TWICE_ROUND = [-1, -1, 1, -1, 1, 1, -1, 1, -1, -0.5, 0.5, -0.5, 0.5, 0.5, -0.5, 0.5, -0.5, -1];
// regl-scatterplot's rectangle lasso: the start corner repeated at the end.
const RECTANGLE = [-0.75, 0.5, 0.5, 0.5, 0.5, -0.25, -0.75, -0.25, -0.75, 0.5];

function reversed(polygon: number[]): number[] {
  const out: number[] = [];
  for (let i = polygon.length - 2; i >= 0; i -= 2) out.push(polygon[i], polygon[i + 1]);
  return out;
}

describe("pointsInPolygon", () => {
  test("selects the inside of a square and leaves the outside", () => {
    const { x, y } = points([
      [0, 0],
      [0.9, -0.9],
      [1.1, 0],
      [0, -1.5],
      [-0.99, 0.99],
    ]);
    expect(Array.from(pointsInPolygon(x, y, SQUARE))).toEqual([0, 1, 4]);
  });

  test("leaves out the notch of a concave polygon", () => {
    const { x, y } = points([
      [0.5, 0], // in the notch
      [-0.5, 0], // the C's back
      [0.5, -0.75], // lower arm
      [0.5, 0.75], // upper arm
      [0, 0.49], // notch, close to its edge
    ]);
    expect(Array.from(pointsInPolygon(x, y, CONCAVE))).toEqual([1, 2, 3]);
  });

  test("decides boundary points as regl-scatterplot's half-open rule does", () => {
    // Square: the lower and left edges belong to the inside, the upper and right edges do not.
    const { x, y } = points([
      [0, -1],
      [-1, 0],
      [0, 1],
      [1, 0],
      [-1, -1],
      [1, 1],
    ]);
    for (const square of [SQUARE, reversed(SQUARE)]) {
      expect(Array.from(pointsInPolygon(x, y, square))).toEqual([0, 1, 4]);
    }
  });

  test("matches regl-scatterplot on a grid through vertices and edges of many shapes", () => {
    const { x, y } = grid();
    for (const shape of [SQUARE, CONCAVE, FIGURE_EIGHT, TWICE_ROUND, RECTANGLE]) {
      for (const polygon of [shape, reversed(shape)]) {
        expect(Array.from(pointsInPolygon(x, y, polygon))).toEqual(reglLasso(x, y, polygon));
      }
    }
  });

  test("self-intersecting lassos follow the non-zero winding rule", () => {
    const { x, y } = points([
      [0, 0], // wound twice
      [0.75, 0], // wound once
      [1.25, 0], // outside
    ]);
    expect(Array.from(pointsInPolygon(x, y, TWICE_ROUND))).toEqual([0, 1]);
  });

  test("matches regl-scatterplot on random freehand lassos, more vertices than bands included", () => {
    const next = random(7);
    for (const vertices of [3, 12, 300, 2500]) {
      const polygon: number[] = [];
      for (let v = 0; v < vertices; v++) {
        const angle = (2 * Math.PI * v) / vertices;
        const radius = 0.3 + 0.7 * next();
        polygon.push(radius * Math.cos(angle), radius * Math.sin(angle));
      }
      const xy: [number, number][] = [];
      for (let i = 0; i < 4000; i++) xy.push([2 * next() - 1, 2 * next() - 1]);
      for (let v = 0; v < vertices; v += 7) xy.push([polygon[2 * v], polygon[2 * v + 1]]);
      const { x, y } = points(xy);
      const expected = reglLasso(x, y, polygon);
      expect(expected.length).toBeGreaterThan(0);
      expect(Array.from(pointsInPolygon(x, y, polygon))).toEqual(expected);
    }
  });

  test("a lasso without area encloses nothing", () => {
    const { x, y } = grid(3);
    expect(pointsInPolygon(x, y, [])).toHaveLength(0);
    expect(pointsInPolygon(x, y, [0, 0])).toHaveLength(0);
    expect(pointsInPolygon(x, y, [0, 0, 1, 1])).toHaveLength(0);
    expect(pointsInPolygon(x, y, [0, 0, 1, 0, 0.5, 0])).toHaveLength(0);
  });

  test("returns increasing indices in a buffer of their own", () => {
    const { x, y } = grid();
    const inside = pointsInPolygon(x, y, CONCAVE);
    expect(inside.byteOffset).toBe(0);
    expect(inside.buffer.byteLength).toBe(4 * inside.length);
    for (let i = 1; i < inside.length; i++) expect(inside[i]).toBeGreaterThan(inside[i - 1]);
  });
});

describe("lasso modifiers", () => {
  test("shift adds (before alt or ctrl), alt or ctrl removes, no key replaces", () => {
    const keys = (shiftKey: boolean, altKey: boolean, ctrlKey: boolean) => ({ shiftKey, altKey, ctrlKey });
    expect(lassoOp(keys(false, false, false))).toBe("replace");
    expect(lassoOp(keys(true, false, false))).toBe("add");
    expect(lassoOp(keys(false, true, false))).toBe("remove");
    expect(lassoOp(keys(false, false, true))).toBe("remove");
    expect(lassoOp(keys(true, true, true))).toBe("add");
  });

  test("with no key held the toolbar's toggle decides; a key overrides it", () => {
    const keys = (shiftKey: boolean, altKey: boolean) => ({ shiftKey, altKey, ctrlKey: false });
    expect(lassoOp(keys(false, false), "add")).toBe("add");
    expect(lassoOp(keys(false, false), "remove")).toBe("remove");
    expect(lassoOp(keys(true, false), "remove")).toBe("add");
    expect(lassoOp(keys(false, true), "add")).toBe("remove");
  });

  test("combineSelection replaces, adds and removes sorted index sets", () => {
    const current = Uint32Array.of(1, 3, 5, 7, 9);
    const lassoed = Uint32Array.of(0, 3, 4, 9, 12);
    expect(combineSelection(current, lassoed, "replace")).toBe(lassoed);
    expect(Array.from(combineSelection(current, lassoed, "add"))).toEqual([0, 1, 3, 4, 5, 7, 9, 12]);
    expect(Array.from(combineSelection(current, lassoed, "remove"))).toEqual([1, 5, 7]);
    const none = new Uint32Array(0);
    expect(Array.from(combineSelection(none, lassoed, "add"))).toEqual([0, 3, 4, 9, 12]);
    expect(Array.from(combineSelection(current, none, "add"))).toEqual([1, 3, 5, 7, 9]);
    expect(Array.from(combineSelection(none, lassoed, "remove"))).toEqual([]);
    expect(Array.from(combineSelection(current, current, "remove"))).toEqual([]);
  });
});
