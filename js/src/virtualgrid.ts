// Virtual grid maths for the selection gallery: which tiles of a long ordered list a scrolled
// viewport shows, which pages of the list those tiles fall in, and where to scroll to bring a
// tile into view. Pure functions of numbers (no DOM), so that 100k tiles cost only the visible ones.
//
// Layout: `columns` tiles per row, each row `rowHeight` pixels high (thumbnail plus caption plus
// gap); tile i sits in row floor(i / columns), column i % columns.

export interface GridGeometry {
  /** Tiles per row (≥ 1). */
  columns: number;
  /** Width of one tile in pixels (a square thumbnail). */
  tileWidth: number;
  /** Height of one row in pixels: thumbnail, caption and gap. */
  rowHeight: number;
}

/**
 * Geometry of a grid `width` pixels wide whose tiles are about `tileSize` pixels: as many columns
 * as fit (at least one); the tiles share the width equally.
 */
export function gridGeometry(width: number, tileSize: number, caption: number, gap: number): GridGeometry {
  const columns = Math.max(1, Math.floor((width + gap) / (tileSize + gap)));
  const tileWidth = Math.max(1, Math.floor((width - gap * (columns - 1)) / columns));
  return { columns, tileWidth, rowHeight: tileWidth + caption + gap };
}

/** Height in pixels of the whole grid of `total` tiles. */
export function gridHeight(total: number, geometry: GridGeometry): number {
  return Math.ceil(total / geometry.columns) * geometry.rowHeight;
}

/**
 * Tiles `[start, end)` that a viewport scrolled to `scrollTop`, `height` pixels high, shows, plus
 * `overscan` rows above and below (so that a short scroll finds them ready).
 */
export function visibleRange(
  scrollTop: number,
  height: number,
  total: number,
  geometry: GridGeometry,
  overscan = 1,
): { start: number; end: number } {
  if (total <= 0 || height <= 0) return { start: 0, end: 0 };
  const { columns, rowHeight } = geometry;
  const rows = Math.ceil(total / columns);
  const firstRow = Math.max(0, Math.floor(Math.max(0, scrollTop) / rowHeight) - overscan);
  const lastRow = Math.min(rows, Math.ceil((Math.max(0, scrollTop) + height) / rowHeight) + overscan);
  return { start: Math.min(total, firstRow * columns), end: Math.min(total, lastRow * columns) };
}

/**
 * Tiles `[start, end)` of the rows the viewport shows at least half of (no overscan): "the page"
 * a user sees, "Mark page" marks.
 */
export function pageRange(scrollTop: number, height: number, total: number, geometry: GridGeometry): { start: number; end: number } {
  if (total <= 0 || height <= 0) return { start: 0, end: 0 };
  const { columns, rowHeight } = geometry;
  const top = Math.max(0, scrollTop);
  const firstRow = Math.floor(top / rowHeight + 0.5);
  let lastRow = Math.floor((top + height) / rowHeight + 0.5);
  if (lastRow <= firstRow) lastRow = firstRow + 1; // a viewport lower than half a row: its top row
  return { start: Math.min(total, firstRow * columns), end: Math.min(total, lastRow * columns) };
}

/** Page numbers (pages of `pageSize` tiles) that tiles `[start, end)` fall in. */
export function pagesOf(start: number, end: number, pageSize: number): number[] {
  if (end <= start) return [];
  const pages: number[] = [];
  for (let p = Math.floor(start / pageSize); p <= Math.floor((end - 1) / pageSize); p++) pages.push(p);
  return pages;
}

/** Pixel offset (left, top) of tile `index`. */
export function tileOffset(index: number, geometry: GridGeometry, gap: number): { left: number; top: number } {
  const row = Math.floor(index / geometry.columns);
  const column = index % geometry.columns;
  return { left: column * (geometry.tileWidth + gap), top: row * geometry.rowHeight };
}

/**
 * The scrollTop that brings tile `index` wholly into a viewport `height` pixels high scrolled to
 * `scrollTop`, moving as little as possible (unchanged when it is visible already).
 */
export function scrollToShow(index: number, scrollTop: number, height: number, geometry: GridGeometry): number {
  const top = Math.floor(index / geometry.columns) * geometry.rowHeight;
  const bottom = top + geometry.rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + height) return Math.max(0, bottom - height);
  return scrollTop;
}
