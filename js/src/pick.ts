// Picking the galaxy under a click or a tap: the nearest point within a few screen pixels of the
// pointer, with no hover needed first. The scatter's view maps point space to screen pixels by an
// affine map (pan and zoom; no rotation is assumed), recovered from three points whose screen
// positions the scatter reports; the search is one pass over the points (a click, not a frame).

/** Screen = [a·x + b·y + c, d·x + e·y + f]. */
export type Affine = [number, number, number, number, number, number];

/**
 * The affine map taking `from` (three points, not on one line) to `to`; null when they are on one
 * line (or nearly), which fixes no map.
 */
export function affineFrom(from: [number, number][], to: [number, number][]): Affine | null {
  const [[x0, y0], [x1, y1], [x2, y2]] = from;
  const det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0);
  const scale = Math.max(Math.abs(x1 - x0), Math.abs(x2 - x0), Math.abs(y1 - y0), Math.abs(y2 - y0)) ** 2;
  if (scale === 0 || Math.abs(det) < 1e-9 * scale) return null;
  const solve = (u0: number, u1: number, u2: number): [number, number, number] => {
    const a = ((u1 - u0) * (y2 - y0) - (u2 - u0) * (y1 - y0)) / det;
    const b = ((x1 - x0) * (u2 - u0) - (x2 - x0) * (u1 - u0)) / det;
    return [a, b, u0 - a * x0 - b * y0];
  };
  return [...solve(to[0][0], to[1][0], to[2][0]), ...solve(to[0][1], to[1][1], to[2][1])];
}

/**
 * Three positions of (x, y) spread as far apart as possible (not on one line unless every point
 * is), for `affineFrom`; null for fewer than three points.
 */
export function spreadTriple(x: ArrayLike<number>, y: ArrayLike<number>): [number, number, number] | null {
  const n = x.length;
  if (n < 3) return null;
  let i = 0;
  let j = 0;
  let best = -1;
  for (let k = 1; k < n; k++) {
    const d = Math.abs(x[k] - x[i]) + Math.abs(y[k] - y[i]);
    if (d > best) [best, j] = [d, k];
  }
  let far = -1;
  let area = -1;
  for (let k = 0; k < n; k++) {
    const a = Math.abs((x[j] - x[i]) * (y[k] - y[i]) - (x[k] - x[i]) * (y[j] - y[i]));
    if (a > area) [area, far] = [a, k];
  }
  return [i, j, far];
}

/**
 * Position of the point nearest the screen pixel (px, py), within `radius` pixels, under the map
 * `affine`; −1 when none is that close. `shown(position)` may leave hidden points out.
 */
export function nearestWithin(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  affine: Affine,
  px: number,
  py: number,
  radius: number,
  shown: (position: number) => boolean = () => true,
): number {
  const [a, b, c, d, e, f] = affine;
  let best = -1;
  let bestSquared = radius * radius;
  for (let k = 0; k < x.length; k++) {
    const dx = a * x[k] + b * y[k] + c - px;
    if (dx > radius || dx < -radius) continue;
    const dy = d * x[k] + e * y[k] + f - py;
    const squared = dx * dx + dy * dy;
    if (squared <= bestSquared && (squared < bestSquared || best < 0) && shown(k)) {
      bestSquared = squared;
      best = k;
    }
  }
  return best;
}
