// The filter the kernel sets (`_filter`: the encoded positions shown; `_filter_meta`: mode "none",
// "dim" or "hide", how many are shown, a description): which positions are shown, keeping the
// selection tools to them, and the line the toolbar shows. Drawing it is scatter.ts's.

import type { FilterMeta } from "./protocol";

/** What the scatter draws: no filter, or the shown positions with the others dimmed or hidden. */
export interface Shown {
  mode: "dim" | "hide";
  /** The shown positions, sorted. */
  positions: Uint32Array;
  /** 1 for a shown position, 0 for one dimmed or hidden; one per position. */
  mask: Uint8Array;
}

/** The filter in force (null for none) from the decoded `_filter` positions and its meta. */
export function shownOf(meta: FilterMeta, positions: Uint32Array, n: number): Shown | null {
  if (meta.mode === "none") return null;
  const mask = new Uint8Array(n);
  for (let i = 0; i < positions.length; i++) mask[positions[i]] = 1;
  return { mode: meta.mode, positions, mask };
}

/** The positions (sorted) that are shown, in their order; all of them without a filter. */
export function keepShown(positions: Uint32Array<ArrayBuffer> | ArrayLike<number>, shown: Shown | null): Uint32Array<ArrayBuffer> {
  const all = isUint32Array(positions) ? positions : Uint32Array.from(positions);
  if (!shown) return all;
  return all.filter((p) => shown.mask[p] === 1);
}

/** The toolbar's line for a filter ("" for none). */
export function filterText(meta: FilterMeta, n: number): string {
  if (meta.mode === "none") return "";
  const others = meta.mode === "dim" ? "others dimmed" : "others hidden";
  return `${meta.shown.toLocaleString("en-US")} of ${n.toLocaleString("en-US")} shown (${meta.description}; ${others})`;
}

function isUint32Array(positions: Uint32Array<ArrayBuffer> | ArrayLike<number>): positions is Uint32Array<ArrayBuffer> {
  return positions instanceof Uint32Array && positions.buffer instanceof ArrayBuffer;
}
