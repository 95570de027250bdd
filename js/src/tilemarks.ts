// Multi-select of gallery tiles (the "marked" tiles a key labels together), by index into the
// gallery's order: plain click marks nothing and moves the anchor, ctrl/meta-click toggles one
// tile, shift-click marks the range from the anchor. Pure state, no DOM.

export interface ClickModifiers {
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
}

export class TileMarks {
  private marked = new Set<number>();
  /** Where a shift-click range starts: the last tile clicked (−1: none). */
  private anchor = -1;
  /** Marks made before the current shift-range (a new shift-click replaces only the range). */
  private base = new Set<number>();

  /** How many tiles are marked. */
  get size(): number {
    return this.marked.size;
  }

  has(index: number): boolean {
    return this.marked.has(index);
  }

  /** Marked indices, ascending. */
  indices(): number[] {
    return [...this.marked].sort((a, b) => a - b);
  }

  /** A click on tile `index`: returns true when the marks changed. */
  click(index: number, { shiftKey, ctrlKey, metaKey }: ClickModifiers): boolean {
    if (shiftKey && this.anchor >= 0) {
      const [low, high] = index < this.anchor ? [index, this.anchor] : [this.anchor, index];
      this.marked = new Set(this.base);
      for (let i = low; i <= high; i++) this.marked.add(i);
      return true;
    }
    if (ctrlKey || metaKey || shiftKey) {
      // The tile clicked before (the current one) joins a multi-selection started with ctrl.
      if (this.marked.size === 0 && this.anchor >= 0 && this.anchor !== index) this.marked.add(this.anchor);
      if (this.marked.has(index)) this.marked.delete(index);
      else this.marked.add(index);
      this.anchor = index;
      this.base = new Set(this.marked);
      return true;
    }
    const changed = this.marked.size > 0;
    this.clear();
    this.anchor = index;
    return changed;
  }

  /** Mark tiles `[start, end)` (a page), keeping the others. */
  markRange(start: number, end: number): void {
    for (let i = start; i < end; i++) this.marked.add(i);
    this.base = new Set(this.marked);
    if (end > start) this.anchor = start;
  }

  /** Unmark everything (after labelling them, or when the order or the selection changes). */
  clear(): void {
    this.marked.clear();
    this.base.clear();
    this.anchor = -1;
  }
}
