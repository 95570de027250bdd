import { describe, expect, it } from "vitest";
import type { Affine } from "./pick";
import {
  AUTO_MAX_IN_VIEW,
  countLimit,
  galaxiesInView,
  imageAt,
  imageSize,
  MAX_IMAGE_PX,
  MIN_IMAGE_PX,
  placeImages,
  showsImages,
  strideFor,
  Tier,
} from "./placement";

/** Point space [0, 100]² onto a 100 × 100 canvas, y up. */
const VIEW: Affine = [1, 0, 0, 0, -1, 100];

function grid(side: number, step: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(side * side);
  const y = new Float32Array(side * side);
  for (let i = 0; i < side; i++) {
    for (let j = 0; j < side; j++) {
      x[i * side + j] = i * step;
      y[i * side + j] = j * step;
    }
  }
  return { x, y };
}

describe("strideFor", () => {
  it("visits every position once", () => {
    for (const n of [1, 2, 3, 10, 97, 1000, 1024, 12345]) {
      const stride = strideFor(n);
      const seen = new Uint8Array(n);
      let p = 0;
      for (let i = 0; i < n; i++) {
        seen[p]++;
        p = (p + stride) % n;
      }
      expect(seen.every((v) => v === 1)).toBe(true);
    }
  });
});

describe("showsImages", () => {
  it("auto: few in view and zoomed in; always; never", () => {
    expect(showsImages("auto", 100, 4)).toBe(true);
    expect(showsImages("auto", 100, 1)).toBe(false); // the whole map
    expect(showsImages("auto", AUTO_MAX_IN_VIEW + 1, 50)).toBe(false);
    expect(showsImages("always", 1_000_000, 1)).toBe(true);
    expect(showsImages("never", 3, 100)).toBe(false);
    expect(showsImages("always", 0, 100)).toBe(false);
  });
});

describe("countLimit", () => {
  it("counts nothing when images cannot show, up to the auto limit otherwise", () => {
    expect(countLimit("never", 50)).toBe(0);
    expect(countLimit("auto", 1)).toBe(0);
    expect(countLimit("auto", 3)).toBe(AUTO_MAX_IN_VIEW);
    expect(countLimit("always", 1)).toBe(Infinity);
  });
});

describe("imageSize", () => {
  it("grows with the zoom within bounds", () => {
    expect(imageSize(1)).toBe(MIN_IMAGE_PX);
    expect(imageSize(4)).toBeGreaterThan(imageSize(3));
    expect(imageSize(1000)).toBe(MAX_IMAGE_PX);
  });
});

describe("galaxiesInView", () => {
  it("keeps those in the view and its margin, counts those in the view, in tier order", () => {
    const x = Float32Array.of(10, 50, 90, 500, -30, 60);
    const y = Float32Array.of(10, 50, 90, 500, 50, 40);
    const tier = (p: number) => (p === 2 ? Tier.Focus : p === 5 ? Tier.Selected : Tier.Other);
    const inView = galaxiesInView(x, y, VIEW, { width: 100, height: 100, tier });
    expect(inView.count).toBe(4); // 0, 1, 2, 5; 4 is in the margin, 3 far out
    expect([...inView.positions].sort()).toEqual([0, 1, 2, 4, 5]);
    expect(inView.positions[0]).toBe(2);
    expect(inView.positions[1]).toBe(5);
    const k = [...inView.positions].indexOf(1);
    expect([inView.sx[k], inView.sy[k]]).toEqual([50, 50]);
  });

  it("stops counting past maxCount, with nothing to place", () => {
    const { x, y } = grid(5, 20);
    const inView = galaxiesInView(x, y, VIEW, { width: 100, height: 100, maxCount: 10 });
    expect(inView.count).toBe(11);
    expect(inView.positions.length).toBe(0);
    expect(showsImages("auto", inView.count, 4)).toBe(true); // the caller compares with its limit
  });

  it("leaves out what the filter hides", () => {
    const { x, y } = grid(5, 20);
    const inView = galaxiesInView(x, y, VIEW, { width: 100, height: 100, shown: (p) => p % 2 === 0 });
    expect(inView.positions.every((p) => p % 2 === 0)).toBe(true);
    expect(inView.count).toBe(13);
  });
});

describe("placeImages", () => {
  it("never overlaps (beyond the allowed sliver) and fills free space", () => {
    const { x, y } = grid(40, 2.5); // a dense 100 × 100 block
    const inView = galaxiesInView(x, y, VIEW, { width: 100, height: 100 });
    const size = 20;
    const placed = placeImages(inView, size);
    expect(placed.length).toBeGreaterThan(16); // a 100-px square holds at least 5 × 5 minus edges
    for (let i = 0; i < placed.length; i++) {
      for (let j = i + 1; j < placed.length; j++) {
        const apart = Math.max(Math.abs(placed[i].x - placed[j].x), Math.abs(placed[i].y - placed[j].y));
        expect(apart).toBeGreaterThanOrEqual(size * 0.92 - 1e-9);
      }
    }
  });

  it("places all of a sparse view, marked galaxies first, and at most max", () => {
    const { x, y } = grid(4, 30);
    const inView = galaxiesInView(x, y, VIEW, { width: 100, height: 100, tier: (p) => (p === 7 ? Tier.Focus : Tier.Other) });
    expect(placeImages(inView, 20).length).toBe(16);
    expect(placeImages(inView, 20, 3).length).toBe(3);
    expect(placeImages(inView, 20)[0].position).toBe(7);
  });

  it("a marked galaxy wins over an earlier neighbor that would overlap", () => {
    const x = Float32Array.of(50, 52);
    const y = Float32Array.of(50, 50);
    const both = (tier?: (p: number) => Tier) => placeImages(galaxiesInView(x, y, VIEW, { width: 100, height: 100, tier }), 20);
    expect(both().length).toBe(1);
    expect(both((p) => (p === 1 ? Tier.Selected : Tier.Other)).map((i) => i.position)).toEqual([1]);
    expect(both((p) => (p === 0 ? Tier.Labelled : Tier.Other)).map((i) => i.position)).toEqual([0]);
  });

  it("is stable: the images in a region do not change when the view pans a little", () => {
    const { x, y } = grid(60, 2);
    const at = (dx: number) => {
      const view: Affine = [1, 0, dx, 0, -1, 100];
      return placeImages(galaxiesInView(x, y, view, { width: 100, height: 100 }), 20);
    };
    const before = new Set(at(0).filter((i) => i.x > 30 && i.x < 70).map((i) => i.position));
    const after = at(-3).filter((i) => i.x > 33 && i.x < 67).map((i) => i.position);
    const kept = after.filter((p) => before.has(p)).length;
    expect(kept / after.length).toBeGreaterThan(0.6);
  });
});

describe("imageAt", () => {
  it("finds the image under a pixel, the last drawn on top", () => {
    const placed = [
      { position: 3, x: 10, y: 10 },
      { position: 8, x: 25, y: 10 },
    ];
    expect(imageAt(placed, 20, 12, 14)).toBe(3);
    expect(imageAt(placed, 20, 18, 10)).toBe(8);
    expect(imageAt(placed, 20, 60, 60)).toBe(-1);
  });
});
