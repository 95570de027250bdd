// The label code of every position, as the page holds it: a snapshot (the `labels` request) then
// the kernel's delta events, each applied only on top of the version it was computed from. A
// delta that does not fit (missed or out of order) asks for a new snapshot; deltas that arrive
// while a snapshot is on its way are kept and applied after it when they follow it.

import type { LabelsEvent } from "./protocol";

/** What changed: the positions whose code changed, or "all" after a snapshot. */
export type LabelChange = Uint32Array | "all";

export class LabelCodes {
  /** Code per position (see protocol.ts); all unlabelled until the first snapshot. */
  readonly codes: Uint8Array;
  /** Version of `codes`; -1 before the first snapshot. */
  version = -1;
  private waiting = false;
  private queued: LabelsEvent[] = [];

  constructor(
    n: number,
    /** Ask the kernel for a snapshot: resolves with it, or null when it failed. */
    private readonly fetchSnapshot: () => Promise<{ version: number; codes: Uint8Array } | null>,
    private readonly onChange: (change: LabelChange) => void,
  ) {
    this.codes = new Uint8Array(n);
  }

  /** Fetch a snapshot (at start, and whenever a delta does not fit). */
  async refresh(): Promise<void> {
    if (this.waiting) return;
    this.waiting = true;
    const snapshot = await this.fetchSnapshot();
    this.waiting = false;
    if (!snapshot) {
      this.queued = [];
      return;
    }
    if (snapshot.version >= this.version) {
      this.codes.set(snapshot.codes);
      this.version = snapshot.version;
      this.onChange("all");
    }
    const queued = this.queued;
    this.queued = [];
    for (const event of queued) if (event.version > this.version) this.apply(event);
  }

  /** Apply a delta event, or ask for a snapshot when it does not follow the local version. */
  apply(event: LabelsEvent): void {
    if (this.waiting) {
      this.queued.push(event);
      return;
    }
    if (event.base_version !== this.version) {
      if (event.version > this.version) void this.refresh();
      return;
    }
    const { positions, codes } = event;
    for (let i = 0; i < positions.length; i++) this.codes[positions[i]] = codes[i];
    this.version = event.version;
    this.onChange(positions);
  }
}
