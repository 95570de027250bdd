import { describe, expect, it } from "vitest";
import { type LabelChange, LabelCodes } from "./labelcodes";
import type { LabelsEvent } from "./protocol";

function delta(base_version: number, version: number, positions: number[], codes: number[]): LabelsEvent {
  return { kind: "labels", base_version, version, positions: new Uint32Array(positions), codes: new Uint8Array(codes) };
}

function setup(snapshots: { version: number; codes: number[] }[]) {
  const changes: LabelChange[] = [];
  let release: () => void = () => {};
  let requested = 0;
  const labels = new LabelCodes(
    4,
    () => {
      const snapshot = snapshots[requested++];
      return new Promise((resolve) => {
        release = () => resolve({ version: snapshot.version, codes: new Uint8Array(snapshot.codes) });
      });
    },
    (change) => changes.push(change),
  );
  return { labels, changes, release: () => release(), requested: () => requested };
}

describe("LabelCodes", () => {
  it("takes a snapshot, then applies the deltas that follow it", async () => {
    const { labels, changes, release } = setup([{ version: 3, codes: [0, 1, 0, 2] }]);
    const refreshed = labels.refresh();
    release();
    await refreshed;
    expect(Array.from(labels.codes)).toEqual([0, 1, 0, 2]);
    labels.apply(delta(3, 4, [2], [255]));
    expect(Array.from(labels.codes)).toEqual([0, 1, 255, 2]);
    expect(labels.version).toBe(4);
    expect(changes).toEqual(["all", new Uint32Array([2])]);
  });

  it("asks for a snapshot when a delta does not follow, and ignores old ones", async () => {
    const { labels, release, requested } = setup([
      { version: 1, codes: [0, 0, 0, 0] },
      { version: 5, codes: [1, 1, 1, 1] },
    ]);
    const first = labels.refresh();
    release();
    await first;
    labels.apply(delta(0, 1, [0], [2])); // already in the snapshot
    expect(Array.from(labels.codes)).toEqual([0, 0, 0, 0]);
    expect(requested()).toBe(1);
    labels.apply(delta(3, 4, [0], [2])); // missed 1 → 3
    expect(requested()).toBe(2);
    labels.apply(delta(4, 5, [1], [2])); // arrives while the snapshot is on its way: subsumed
    labels.apply(delta(5, 6, [3], [0])); // follows the snapshot
    release();
    await Promise.resolve();
    await Promise.resolve();
    expect(Array.from(labels.codes)).toEqual([1, 1, 1, 0]);
    expect(labels.version).toBe(6);
  });
});
