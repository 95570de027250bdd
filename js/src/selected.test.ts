import { describe, expect, it } from "vitest";
import { encodeSelection, ProtocolError, SelectionKind } from "./protocol";
import { Selected } from "./selected";

const N = 1000;

/** Each encoding kind of the same positions, as the kernel might send them. */
function encodings(positions: number[]): Map<number, Uint8Array> {
  const sorted = Uint32Array.from(positions);
  const out = new Map<number, Uint8Array>();
  // The smallest encoding, then the two others built by hand.
  const smallest = encodeSelection(sorted, N);
  out.set(smallest[0], smallest);
  const header = (kind: number, bytes: number) => {
    const data = new Uint8Array(8 + bytes);
    data[0] = kind;
    new DataView(data.buffer).setUint32(4, sorted.length, true);
    return data;
  };
  const listed = header(SelectionKind.POSITIONS, 4 * sorted.length);
  new Uint32Array(listed.buffer, 8).set(sorted);
  out.set(SelectionKind.POSITIONS, listed);
  const mask = header(SelectionKind.BITMASK, Math.ceil(N / 8));
  for (const p of sorted) mask[8 + (p >>> 3)] |= 1 << (p & 7);
  out.set(SelectionKind.BITMASK, mask);
  const runs: number[] = [];
  for (const p of sorted) {
    if (runs.length > 0 && runs[runs.length - 2] + runs[runs.length - 1] === p) runs[runs.length - 1]++;
    else runs.push(p, 1);
  }
  const ran = header(SelectionKind.RUNS, 4 * runs.length);
  new Uint32Array(ran.buffer, 8).set(runs);
  out.set(SelectionKind.RUNS, ran);
  return out;
}

describe("Selected", () => {
  const positions = [0, 1, 2, 7, 8, 9, 10, 500, 998, 999];
  const loaded = Uint32Array.from([0, 3, 7, 10, 11, 499, 500, 501, 999]);

  it("answers count, membership and the loaded ones from every encoding alike, without expanding", () => {
    for (const [kind, data] of encodings(positions)) {
      const selected = Selected.decode(data, N);
      expect(selected.count, `kind ${kind}`).toBe(positions.length);
      for (let p = 0; p < N; p++) expect(selected.has(p), `kind ${kind}, position ${p}`).toBe(positions.includes(p));
      expect(Array.from(selected.indicesIn(loaded)), `kind ${kind}`).toEqual([0, 2, 3, 6, 8]);
      expect(Array.from(selected.positions()), `kind ${kind}`).toEqual(positions);
    }
  });

  it("tells equal selections apart from different ones, across encodings", () => {
    const all = [...encodings(positions).values()].map((data) => Selected.decode(data, N));
    for (const a of all) for (const b of all) expect(a.equals(b)).toBe(true);
    const other = Selected.of(Uint32Array.from([0, 1, 2, 7, 8, 9, 10, 500, 998]));
    for (const a of all) expect(a.equals(other)).toBe(false);
    const moved = Selected.decode(encodings([...positions.slice(0, -1), 997]).get(SelectionKind.BITMASK) ?? new Uint8Array(0), N);
    expect(all[0].equals(moved)).toBe(false);
    expect(Selected.none.equals(Selected.decode(new Uint8Array(0), N))).toBe(true);
  });

  it("checks a bitmask's count without expanding it, and refuses a lying one", () => {
    const mask = encodings(positions).get(SelectionKind.BITMASK) ?? new Uint8Array(0);
    mask[4] = positions.length + 1;
    expect(() => Selected.decode(mask, N)).toThrow(ProtocolError);
    expect(() => Selected.decode(mask, N)).toThrow(/holds 10 positions, its count says 11/);
  });

  it("holds most of a 76M-galaxy map as its 9.5 MB bitmask and answers for the loaded points", () => {
    const n = 76_000_000;
    const data = new Uint8Array(8 + n / 8);
    data[0] = SelectionKind.BITMASK;
    data.fill(0xff, 8, 8 + (n / 8) * 0.9); // the first 90%
    new DataView(data.buffer).setUint32(4, n * 0.9, true);
    const selected = Selected.decode(data, n);
    expect(selected.count).toBe(68_400_000);
    expect(selected.has(68_399_999)).toBe(true);
    expect(selected.has(68_400_000)).toBe(false);
    const someLoaded = Uint32Array.from({ length: 300_000 }, (_, i) => i * 253);
    const inside = selected.indicesIn(someLoaded);
    expect(inside.length).toBe(Math.ceil(68_400_000 / 253));
  });
});
