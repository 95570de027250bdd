// The selection as the page holds it: its encoding, checked but not expanded (issue 21). A lasso
// over most of a 76M-galaxy map selects tens of millions of galaxies; the kernel sends them as a
// 9.5 MB bitmask, and the page needs only their count, whether a given galaxy is selected, and
// which of the few hundred thousand loaded points are. Their positions (4 bytes a galaxy) are
// expanded only when asked for (`positions()`: the page's own lasso and shift-click below the
// point budget, where n is at most the budget).

import { type Binary, expandSelection, type ParsedSelection, parseSelection, SelectionKind } from "./protocol";

/** The last index i of sorted `values` with values[i] ≤ `value` (stepping by `stride`), or −1. */
function lastAtMost(values: Uint32Array, value: number, stride: number): number {
  let lo = 0;
  let hi = values.length / stride - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid * stride] <= value) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Selected galaxies: their count, membership and (on demand) sorted positions. */
export class Selected {
  private expanded: Uint32Array | null;

  private constructor(private readonly parsed: ParsedSelection) {
    this.expanded = parsed.kind === SelectionKind.POSITIONS ? parsed.positions : null;
  }

  static readonly none = new Selected({ kind: SelectionKind.POSITIONS, count: 0, positions: new Uint32Array(0) });

  /** From an encoded selection of positions < n; throws ProtocolError when malformed. */
  static decode(value: Binary, n: number): Selected {
    return new Selected(parseSelection(value, n));
  }

  /** From sorted unique positions. */
  static of(positions: Uint32Array): Selected {
    return new Selected({ kind: SelectionKind.POSITIONS, count: positions.length, positions });
  }

  /** How many galaxies are selected. */
  get count(): number {
    return this.parsed.count;
  }

  /** Whether the galaxy at `position` is selected. */
  has(position: number): boolean {
    const parsed = this.parsed;
    switch (parsed.kind) {
      case SelectionKind.BITMASK:
        return ((parsed.mask[position >>> 3] ?? 0) & (1 << (position & 7))) !== 0;
      case SelectionKind.RUNS: {
        const run = lastAtMost(parsed.runs, position, 2);
        return run >= 0 && position < parsed.runs[2 * run] + parsed.runs[2 * run + 1];
      }
      default: {
        const at = lastAtMost(parsed.positions, position, 1);
        return at >= 0 && parsed.positions[at] === position;
      }
    }
  }

  /** The indices (ascending) of the selected ones among `positions` (e.g. the loaded points). */
  indicesIn(positions: Uint32Array): Uint32Array {
    const out = new Uint32Array(Math.min(positions.length, this.count));
    let k = 0;
    for (let i = 0; i < positions.length && k < out.length; i++) if (this.has(positions[i])) out[k++] = i;
    return out.slice(0, k);
  }

  /** The sorted unique positions (expanded once, 4 bytes a selected galaxy). */
  positions(): Uint32Array {
    this.expanded ??= expandSelection(this.parsed);
    return this.expanded;
  }

  /** Whether both select the same galaxies (without expanding two encodings of one kind). */
  equals(other: Selected): boolean {
    if (other === this) return true;
    if (other.count !== this.count) return false;
    const [a, b] = [this.parsed, other.parsed];
    if (a.kind === SelectionKind.BITMASK && b.kind === SelectionKind.BITMASK) return sameValues(a.mask, b.mask);
    if (a.kind === SelectionKind.RUNS && b.kind === SelectionKind.RUNS) return sameValues(a.runs, b.runs);
    return sameValues(this.positions(), other.positions());
  }
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
