// Where thumbnails go in the map (pure, no DOM): which galaxies are in view, whether images replace
// points ("auto" | "always" | "never", by how many are in view and the zoom), the image size for a
// zoom, and a non-overlapping subset. The subset is greedy over a fixed pseudo-random order of the
// galaxies (a stride through the positions), so that it is a uniform sample of what is in view
// (dense regions keep more images, as they have more galaxies) and stays the same while panning;
// the focused, selected and labelled galaxies are placed before the others.

import type { Affine } from "./pick";
import type { ShowImages } from "./protocol";

export type { ShowImages };
export const SHOW_IMAGES: readonly ShowImages[] = ["auto", "always", "never"];

/** "auto" shows images only when at most this many galaxies are in view... */
export const AUTO_MAX_IN_VIEW = 8000;
/** ... and the map is zoomed in at least this much (1: the whole map). */
export const AUTO_MIN_ZOOM = 2;
/** Image side in CSS pixels: IMAGE_PX × √zoom, within [MIN_IMAGE_PX, MAX_IMAGE_PX]. */
export const IMAGE_PX = 24;
export const MIN_IMAGE_PX = 28;
export const MAX_IMAGE_PX = 96;
/** At most this many images at once (a large screen at "always"). */
export const MAX_IMAGES = 400;
/** A galaxy this far (pixels) outside the view still gets its image, so panning shows it whole. */
const VIEW_MARGIN_PX = MAX_IMAGE_PX / 2;
/** Images may overlap by this fraction of their side (a little, so that more fit). */
const OVERLAP = 0.08;

/** Priority tiers: placed in this order. */
export const Tier = { Focus: 0, Selected: 1, Labelled: 2, Other: 3 } as const;
export type Tier = (typeof Tier)[keyof typeof Tier];

/** Galaxies in view, in placing order, with their screen positions. */
export interface InView {
  /** Positions (tier by tier, each in the fixed pseudo-random order). */
  positions: Uint32Array;
  /** Canvas pixels of each, parallel to `positions`. */
  sx: Float32Array;
  sy: Float32Array;
  /** How many galaxies are in the view itself (without the margin). */
  count: number;
}

/** The side of an image, in CSS pixels, at `zoom`. */
export function imageSize(zoom: number): number {
  return Math.min(MAX_IMAGE_PX, Math.max(MIN_IMAGE_PX, IMAGE_PX * Math.sqrt(zoom)));
}

/**
 * How many galaxies in view are worth counting for `setting` at `zoom`: none when images cannot
 * show whatever the count ("never", or "auto" zoomed out), AUTO_MAX_IN_VIEW for "auto".
 */
export function countLimit(setting: ShowImages, zoom: number): number {
  if (setting === "never" || (setting === "auto" && zoom < AUTO_MIN_ZOOM)) return 0;
  return setting === "auto" ? AUTO_MAX_IN_VIEW : Infinity;
}

/** Whether images replace points for this setting, galaxies in view and zoom. */
export function showsImages(setting: ShowImages, inView: number, zoom: number): boolean {
  if (setting === "never" || inView === 0) return false;
  if (setting === "always") return true;
  return inView <= AUTO_MAX_IN_VIEW && zoom >= AUTO_MIN_ZOOM;
}

/** A stride through 0…n−1 that visits every position once (coprime with n) and scatters them. */
export function strideFor(n: number): number {
  if (n <= 2) return 1;
  let stride = Math.max(1, Math.round(n * 0.6180339887)); // the golden ratio spreads them evenly
  while (gcd(stride, n) !== 1) stride++;
  return stride;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export interface InViewOptions {
  /** Canvas size in CSS pixels. */
  width: number;
  height: number;
  /** The tier of a position (marked galaxies first); all Other when omitted. */
  tier?: (position: number) => Tier;
  /** Whether the position is shown (the filter); all when omitted. */
  shown?: (position: number) => boolean;
  /** Stop as soon as more than this many are in the view (nothing to place then); no limit when omitted. */
  maxCount?: number;
}

/**
 * The galaxies within the view (plus a margin) under `view` (point space → canvas pixels), in
 * placing order. One pass over the n points, with no sort.
 */
export function galaxiesInView(x: Float32Array, y: Float32Array, view: Affine, options: InViewOptions): InView {
  const { width, height, tier, shown, maxCount = Infinity } = options;
  const n = Math.min(x.length, y.length);
  const [a, b, c, d, e, f] = view;
  const stride = strideFor(n);
  const tiers: number[][] = [[], [], [], []];
  const pxs: number[][] = [[], [], [], []];
  const pys: number[][] = [[], [], [], []];
  let count = 0;
  let p = 0;
  for (let i = 0; i < n; i++) {
    const sx = a * x[p] + b * y[p] + c;
    const sy = d * x[p] + e * y[p] + f;
    if (sx >= -VIEW_MARGIN_PX && sx <= width + VIEW_MARGIN_PX && sy >= -VIEW_MARGIN_PX && sy <= height + VIEW_MARGIN_PX) {
      if (!shown || shown(p)) {
        if (sx >= 0 && sx <= width && sy >= 0 && sy <= height && ++count > maxCount) {
          return { positions: new Uint32Array(0), sx: new Float32Array(0), sy: new Float32Array(0), count };
        }
        const t = tier ? tier(p) : Tier.Other;
        tiers[t].push(p);
        pxs[t].push(sx);
        pys[t].push(sy);
      }
    }
    p += stride;
    if (p >= n) p -= n;
  }
  return {
    positions: Uint32Array.from(tiers.flat()),
    sx: Float32Array.from(pxs.flat()),
    sy: Float32Array.from(pys.flat()),
    count,
  };
}

/** A placed image: the galaxy and the center of its square, in canvas pixels. */
export interface Placed {
  position: number;
  x: number;
  y: number;
}

/**
 * Greedy non-overlapping placement of `size`-pixel squares centered on the galaxies of `inView`,
 * in its order (a square that would overlap one placed before is left out: that galaxy stays a
 * point), at most `max` of them.
 */
export function placeImages(inView: InView, size: number, max = MAX_IMAGES): Placed[] {
  const gap = size * (1 - OVERLAP); // centers closer than this on both axes overlap
  const cell = gap;
  const grid = new Map<number, Placed[]>();
  const key = (i: number, j: number) => i * 1_000_003 + j;
  const placed: Placed[] = [];
  const { positions, sx, sy } = inView;
  for (let k = 0; k < positions.length && placed.length < max; k++) {
    const x = sx[k];
    const y = sy[k];
    const i = Math.floor(x / cell);
    const j = Math.floor(y / cell);
    let free = true;
    for (let di = -1; di <= 1 && free; di++) {
      for (let dj = -1; dj <= 1 && free; dj++) {
        for (const other of grid.get(key(i + di, j + dj)) ?? []) {
          if (Math.abs(other.x - x) < gap && Math.abs(other.y - y) < gap) {
            free = false;
            break;
          }
        }
      }
    }
    if (!free) continue;
    const image = { position: positions[k], x, y };
    placed.push(image);
    const bucket = grid.get(key(i, j));
    if (bucket) bucket.push(image);
    else grid.set(key(i, j), [image]);
  }
  return placed;
}

/** The galaxy whose image (a `size`-pixel square) holds canvas pixel (x, y); −1 for none. */
export function imageAt(placed: readonly Placed[], size: number, x: number, y: number): number {
  const half = size / 2;
  // Drawn in order, so the last one holding the pixel is on top.
  for (let k = placed.length - 1; k >= 0; k--) {
    const image = placed[k];
    if (Math.abs(image.x - x) <= half && Math.abs(image.y - y) <= half) return image.position;
  }
  return -1;
}
