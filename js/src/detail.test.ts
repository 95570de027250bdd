import { describe, expect, it } from "vitest";
import { pointCodes } from "./colors";
import {
  densityPixels,
  type DetailHost,
  imageTransform,
  invertAffine,
  LevelOfDetail,
  LoadedPoints,
  localShown,
  resetView,
  viewRectangle,
  within,
  VIEW_POINTS,
} from "./detail";
import type { Affine } from "./pick";
import type { Params, Reply } from "./protocol";

const points = (positions: number[]) =>
  LoadedPoints.fromView(Uint32Array.from(positions), Float32Array.from(positions.flatMap((p) => [p / 10, -p / 10 + 0])));

describe("loaded points", () => {
  it("merges two sorted sets, each position once, keeping coordinates", () => {
    const merged = points([1, 4, 9]).union(points([0, 4, 5, 12]));
    expect(Array.from(merged.positions)).toEqual([0, 1, 4, 5, 9, 12]);
    expect(Array.from(merged.x)).toEqual([0, 0.1, 0.4, 0.5, 0.9, 1.2].map((v) => Math.fround(v)));
    expect(Array.from(merged.y)).toEqual([0, -0.1, -0.4, -0.5, -0.9, -1.2].map((v) => Math.fround(v)));
    expect(Array.from(points([]).union(points([2, 3])).positions)).toEqual([2, 3]);
    expect(Array.from(points([2, 3]).union(points([])).x)).toEqual([0.2, 0.3].map((v) => Math.fround(v)));
  });

  it("tells the same loaded set from another one", () => {
    const loaded = points([1, 4, 9]);
    expect(loaded.equals(points([4]).union(points([1, 9])))).toBe(true);
    expect(loaded.equals(points([1, 4]))).toBe(false);
    expect(loaded.equals(points([1, 4, 8]))).toBe(false);
  });

  it("maps global positions to local indices and back", () => {
    const loaded = points([3, 7, 8, 20]);
    expect(loaded.localOf(8)).toBe(2);
    expect(loaded.localOf(9)).toBe(-1);
    expect(Array.from(loaded.globalsOf([3, 0]))).toEqual([20, 3]);
    expect(loaded.xyOf(7)).toEqual([Math.fround(0.7), Math.fround(-0.7)]);
    expect(loaded.xyOf(6)).toBeNull();
  });

  it("looks up colors and the filter of the loaded points by position", () => {
    const loaded = points([1, 3]);
    const colors = Uint8Array.from([10, 11, 12, 13]);
    const labels = new Uint8Array(4);
    const codes = pointCodes({ kind: "continuous", column: "c", min: 0, max: 1 } as never, colors, labels, 0, loaded.positions);
    expect(Array.from(codes)).toEqual([11, 13]);
    const shown = { mode: "hide" as const, positions: Uint32Array.from([0, 3]), mask: Uint8Array.from([1, 0, 0, 1]) };
    const local = localShown(shown, loaded);
    expect(Array.from(local?.mask ?? [])).toEqual([0, 1]);
    expect(Array.from(local?.positions ?? [])).toEqual([1]);
    expect(localShown(null, loaded)).toBeNull();
  });
});

describe("views and density images", () => {
  it("inverts the reset view onto the square and widens the view rectangle", () => {
    const view = resetView(400, 200); // y spans the height: x from −2 to 2 on a 2:1 canvas
    const inverse = invertAffine(view) as Affine;
    const [a, b, c, d, e, f] = inverse;
    expect([a * 0 + b * 0 + c, d * 0 + e * 0 + f]).toEqual([-2, 1]);
    expect(viewRectangle(view, 400, 200, 0)).toEqual([-1, -1, 1, 1]); // clipped to the square
    const zoomed: Affine = [1000, 0, 0, 0, -1000, 0]; // 1000 px a unit, (0, 0) at the top left
    const rect = viewRectangle(zoomed, 100, 50, 0.1);
    expect(rect?.map((v) => Number(v.toFixed(6)))).toEqual([-0.01, -0.055, 0.11, 0.005]);
    expect(viewRectangle([1000, 0, -5000, 0, -1000, 0], 100, 50)).toBeNull(); // off the square
    expect(within([-0.5, -0.5, 0.5, 0.5], [-1, -1, 1, 1])).toBe(true);
    expect(within([-0.5, -0.5, 1.5, 0.5], [-1, -1, 1, 1])).toBe(false);
  });

  it("places the image's corners on the square's corners", () => {
    const view: Affine = [100, 0, 150, 0, -100, 120];
    const [a, b, c, d, e, f] = imageTransform(view, 8);
    const at = (i: number, j: number) => [a * i + c * j + e, b * i + d * j + f];
    expect(at(0, 0)).toEqual([50, 20]); // point (−1, 1)
    expect(at(8, 8)).toEqual([250, 220]); // point (1, −1)
  });

  it("colors non-empty pixels only, opacity rising with the level", () => {
    const pixels = densityPixels(Uint8Array.from([0, 1, 255]), [10, 20, 30], 1);
    expect(Array.from(pixels.slice(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(pixels.slice(4, 7))).toEqual([10, 20, 30]);
    expect(pixels[7]).toBeGreaterThan(0);
    expect(pixels[11]).toBe(255);
    expect(pixels[11]).toBeGreaterThan(pixels[7]);
  });
});

type Sent = { kind: string; params: Record<string, unknown>; signal: AbortSignal };

const xOf = (position: number) => (position - 4) / 10;

/** A host answering map requests from a fixed set of points (the kernel's rule: lowest ranks first,
 * here the lowest positions). Requests wait until `release()`. */
function fakeKernel(all: number[]) {
  const sent: Sent[] = [];
  const drawn: number[][] = [];
  const pending: (() => void)[] = [];
  const host: DetailHost = {
    request<K extends "map_view" | "map_density">(kind: K, params: Params<K>, signal: AbortSignal): Promise<Reply<K>> {
      sent.push({ kind, params: params as Record<string, unknown>, signal });
      return new Promise((resolve) => {
        pending.push(() => {
          if (signal.aborted) return resolve({ ok: false, reason: "cancelled", cancelled: true } as Reply<K>);
          if (kind === "map_density") {
            return resolve({ ok: true, size: 2, max: 1, density: new Uint8Array(4) } as unknown as Reply<K>);
          }
          const p = params as Params<"map_view">;
          const inside = all.filter((v) => xOf(v) >= p.x0 && xOf(v) <= p.x1);
          const chosen = inside.slice(0, p.limit);
          resolve({
            ok: true,
            layout: "pca",
            total: inside.length,
            count: chosen.length,
            next_rank: chosen.length < inside.length ? 1 : -1,
            positions: Uint32Array.from(chosen),
            points: Float32Array.from(chosen.flatMap((v) => [xOf(v), 0])),
          } as unknown as Reply<K>);
        });
      });
    },
    loaded: (loaded) => drawn.push(Array.from(loaded.positions)),
    densityChanged: () => {},
    failed: (message) => {
      throw new Error(message);
    },
  };
  const release = async () => {
    while (pending.length > 0) pending.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { host, sent, drawn, release };
}

describe("level of detail", () => {
  it("splits the budget between the sample and the view", () => {
    const { host } = fakeKernel([]);
    const lod = new LevelOfDetail(host, 100_000, "pca");
    expect([lod.sampleSize, lod.viewLimit]).toEqual([50_000, 50_000]);
    const large = new LevelOfDetail(host, 2_500_000, "pca");
    // Beyond the budget's split, a view asks for what a screen can show.
    expect([large.sampleSize, large.viewLimit]).toEqual([200_000, VIEW_POINTS]);
  });

  it("loads the sample, then the view's points with it; a newer view cancels an older one", async () => {
    const kernel = fakeKernel([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const lod = new LevelOfDetail(kernel.host, 6, "pca"); // sample 3, view 3
    const started = lod.start();
    await kernel.release();
    await started;
    expect(kernel.sent.map((s) => s.kind)).toEqual(["map_density", "map_view"]);
    expect(kernel.sent[1].params).toEqual({ x0: -1, y0: -1, x1: 1, y1: 1, limit: 3, from_rank: 0 });
    expect(kernel.drawn).toEqual([[0, 1, 2]]);
    const stale = lod.loadView([-1, -1, -0.05, 1]);
    const fresh = lod.loadView([0.05, -1, 0.35, 1]);
    expect(kernel.sent[2].signal.aborted).toBe(true);
    await kernel.release();
    await Promise.all([stale, fresh]);
    expect(kernel.drawn).toEqual([[0, 1, 2], [0, 1, 2, 5, 6, 7]]);
    expect(lod.viewAnswered?.complete).toBe(true);
    // A view inside a completely loaded one asks for nothing; the whole square goes back to the sample.
    await lod.loadView([0.1, -0.5, 0.3, 0.5]);
    expect(kernel.sent).toHaveLength(4);
    await lod.loadView(null);
    expect(kernel.drawn[2]).toEqual(kernel.drawn[0]);
    lod.dispose();
  });
});
