import { describe, expect, it } from "vitest";
import {
  checkMessageSize,
  decodeColors,
  decodeEvent,
  decodePoints,
  decodeReply,
  decodeSelection,
  encodeRequest,
  encodeSelection,
  MAX_MESSAGE_BYTES,
  ProtocolError,
  SelectionKind,
  selectionSizes,
} from "./protocol";

const TEN_MILLION = 10_000_000;

/** Deterministic pseudo-random generator (xorshift32) in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Sorted positions < n, each kept with probability `density`. */
function randomPositions(n: number, density: number, seed = 7): Uint32Array {
  const next = random(seed);
  const out = new Uint32Array(Math.ceil(n * density * 1.2) + 16);
  let k = 0;
  for (let p = 0; p < n; p++) if (next() < density) out[k++] = p;
  return out.slice(0, k);
}

function header(data: Uint8Array): { kind: number; count: number } {
  return { kind: data[0], count: new DataView(data.buffer, data.byteOffset).getUint32(4, true) };
}

function equal(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe("selection encoding", () => {
  it("round-trips 10M points in each encoding, chosen by density, within the size bound", () => {
    const n = TEN_MILLION;
    const bound = 8 + Math.ceil(n / 8);
    const runs = new Uint32Array(9_000_000);
    for (let i = 0; i < runs.length; i++) runs[i] = i < 4_500_000 ? i : i + 500_000; // two runs
    const cases: [Uint32Array, number][] = [
      [randomPositions(n, 0.001), SelectionKind.POSITIONS], // 10k scattered
      [randomPositions(n, 0.6), SelectionKind.BITMASK], // 6M scattered
      [runs, SelectionKind.RUNS], // 9M in two runs
    ];
    for (const [positions, kind] of cases) {
      const data = encodeSelection(positions, n);
      expect(header(data)).toEqual({ kind, count: positions.length });
      expect(data.byteLength).toBe(Math.min(...selectionSizes(positions, n)));
      expect(data.byteLength).toBeLessThanOrEqual(bound);
      expect(equal(decodeSelection(new DataView(data.buffer), n), positions)).toBe(true);
    }
  });

  it("selects every one of 10M points in 16 bytes and none in 8", () => {
    const all = new Uint32Array(TEN_MILLION);
    for (let i = 0; i < all.length; i++) all[i] = i;
    const data = encodeSelection(all, TEN_MILLION);
    expect(Array.from(data)).toEqual([2, 0, 0, 0, ...[0x80, 0x96, 0x98, 0], 0, 0, 0, 0, ...[0x80, 0x96, 0x98, 0]]);
    expect(decodeSelection(data, TEN_MILLION).length).toBe(TEN_MILLION);
    const none = encodeSelection(new Uint32Array(0), TEN_MILLION);
    expect(Array.from(none)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(decodeSelection(none, TEN_MILLION).length).toBe(0);
    expect(decodeSelection(new Uint8Array(0), 5).length).toBe(0);
    expect(decodeSelection(null, 5).length).toBe(0);
  });

  it("writes the exact bytes of each encoding", () => {
    // n = 1000: positions 1, 2, 3, 9 → runs (1, 3), (9, 1): 24 bytes; positions: 24 bytes (tie → POSITIONS)
    expect(Array.from(encodeSelection(new Uint32Array([1, 2, 3, 9]), 1000))).toEqual([
      0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0,
    ]);
    // n = 20, positions 0…9 and 12: bitmask is 3 bytes
    const dense = new Uint32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12]);
    expect(Array.from(encodeSelection(dense, 20))).toEqual([1, 0, 0, 0, 11, 0, 0, 0, 0xff, 0b00010011, 0]);
    // n = 1000, 500 consecutive positions: one run
    const run = Uint32Array.from({ length: 500 }, (_, i) => 100 + i);
    expect(Array.from(encodeSelection(run, 1000))).toEqual([2, 0, 0, 0, 0xf4, 1, 0, 0, 100, 0, 0, 0, 0xf4, 1, 0, 0]);
  });

  it("decodes payloads whose buffer starts at an odd offset", () => {
    const data = encodeSelection(new Uint32Array([3, 70000]), 100000);
    const shifted = new Uint8Array(data.length + 1);
    shifted.set(data, 1);
    expect(Array.from(decodeSelection(new DataView(shifted.buffer, 1), 100000))).toEqual([3, 70000]);
  });

  it("refuses positions past n when encoding", () => {
    expect(() => encodeSelection(new Uint32Array([1, 10]), 10)).toThrow(ProtocolError);
  });

  const n = 20;
  const malformed: [string, number[], RegExp][] = [
    ["a header cut short", [0, 0, 0], /shorter than its 8-byte header/],
    ["an unknown kind", [7, 0, 0, 0, 0, 0, 0, 0], /unknown selection kind 7/],
    ["reserved bytes set", [0, 1, 0, 0, 0, 0, 0, 0], /reserved/],
    ["a count over n", [0, 0, 0, 0, 21, 0, 0, 0], /exceeds n/],
    ["positions and count disagreeing", [0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0], /payload bytes for count 2/],
    ["unsorted positions", [0, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0], /not sorted/],
    ["duplicate positions", [0, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0], /not sorted/],
    ["a position past n", [0, 0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0], /not below n/],
    ["a bitmask of the wrong length", [1, 0, 0, 0, 1, 0, 0, 0, 1, 0], /expected 3/],
    ["bitmask bits past n", [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x10], /past n/],
    ["a bitmask count that lies", [1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0], /holds 1 positions, its count says 2/],
    ["an empty run", [2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], /empty/],
    ["adjacent runs", [2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0], /adjacent/],
    ["a run past n", [2, 0, 0, 0, 5, 0, 0, 0, 18, 0, 0, 0, 5, 0, 0, 0], /past n/],
    ["runs and count disagreeing", [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0], /its count says 3/],
    ["half a run", [2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0], /whole pairs/],
  ];
  for (const [what, bytes, message] of malformed) {
    it(`rejects ${what}`, () => {
      expect(() => decodeSelection(new Uint8Array(bytes), n)).toThrow(message);
    });
  }
});

describe("binary traits", () => {
  it("decodes points into x and y columns and checks their number", () => {
    const { x, y } = decodePoints(new DataView(new Float32Array([0, 1, 2, 3]).buffer), 2);
    expect(Array.from(x)).toEqual([0, 2]);
    expect(Array.from(y)).toEqual([1, 3]);
    expect(() => decodePoints(new Float32Array(6), 2)).toThrow(/3 points, expected 2/);
  });

  it("decodes color codes only for kinds that have them", () => {
    const codes = new Uint8Array([0, 255, 3]);
    expect(decodeColors(codes, { kind: "continuous", column: "z", min: 0, max: 1, missing: 1 }, 3)).toEqual(codes);
    expect(decodeColors(new Uint8Array(0), { kind: "label", column: "label", missing: 0 }, 3)).toBeNull();
    expect(() => decodeColors(codes, { kind: "categorical", column: "c", categories: ["a"], missing: 0 }, 4)).toThrow(
      /3 codes, expected 4/,
    );
  });
});

describe("requests, replies and events", () => {
  it("sends array parameters as buffers", () => {
    const { content, buffers } = encodeRequest("label", "v", 3, { positions: new Uint32Array([4, 9]), label: "spiral" });
    expect(content).toEqual({ type: "request", kind: "label", view: "v", request: 3, label: "spiral" });
    expect(Array.from(new Uint32Array(buffers[0].buffer))).toEqual([4, 9]);
    expect(encodeRequest("neighbors", "v", 1, { position: 5 })).toEqual({
      content: { type: "request", kind: "neighbors", view: "v", request: 1, position: 5 },
      buffers: [],
    });
  });

  it("decodes a neighbors reply's buffers and checks them", () => {
    const positions = new DataView(new Uint32Array([5, 2]).buffer);
    const distances = new DataView(new Float32Array([0, 0.5]).buffer);
    const reply = decodeReply("neighbors", { position: 5, id: "a", ids: ["a", "b"] }, [positions, distances], 10);
    expect(Array.from(reply.positions)).toEqual([5, 2]);
    expect(Array.from(reply.distances)).toEqual([0, 0.5]);
    expect(() => decodeReply("neighbors", { position: 5, id: "a", ids: ["a"] }, [positions, distances], 10)).toThrow(
      /2 positions for 1 ids/,
    );
    expect(() => decodeReply("neighbors", { position: 5, id: "a", ids: ["a", "b"] }, [positions], 10)).toThrow(
      /buffer 1 is missing/,
    );
    expect(() => decodeReply("neighbors", { position: 5, id: "a", ids: ["a", "b"] }, [positions, distances], 4)).toThrow(
      /position 5 is not below n = 4/,
    );
    expect(() => decodeReply("neighbors", { id: "a", ids: ["a", "b"] }, [positions, distances], 10)).toThrow(
      /`position` is not an integer/,
    );
  });

  it("decodes label snapshots, hover fields and thumbnails", () => {
    const codes = new DataView(new Uint8Array([0, 1, 255]).buffer);
    expect(Array.from(decodeReply("labels", { version: 4 }, [codes], 3).codes)).toEqual([0, 1, 255]);
    expect(() => decodeReply("labels", { version: 4 }, [codes], 4)).toThrow(/3 codes, expected 4/);
    expect(decodeReply("hover", { id: "x", fields: [["z", 0.5]] }, [], 3)).toEqual({ id: "x", fields: [["z", "0.5"]], radec: null });
    expect(decodeReply("hover", { id: "x", fields: [], radec: [150.5, -2] }, [], 3).radec).toEqual([150.5, -2]);
    expect(() => decodeReply("hover", { id: "x", fields: [], radec: [1] }, [], 3)).toThrow(/radec/);
    expect(() => decodeReply("hover", { id: "x", fields: [["z"]] }, [], 3)).toThrow(/pairs/);
    expect(decodeReply("thumbnail", { url: "u" }, [], 3)).toEqual({ url: "u" });
    expect(() => decodeReply("thumbnail", { mime: "image/png" }, [], 3)).toThrow(/no image/);
  });

  it("decodes several thumbnails in one reply and checks their sizes", () => {
    const images = new DataView(new Uint8Array([1, 2, 3, 4, 5]).buffer);
    const fields = { urls: [null, null, "u"], mimes: ["image/png", null, null], sizes: [5, 0, 0], reasons: [null, "no galaxy", null] };
    const reply = decodeReply("thumbnails", fields, [images], 3);
    expect(reply.urls).toEqual([null, null, "u"]);
    expect(Array.from(reply.images)).toEqual([1, 2, 3, 4, 5]);
    expect(() => decodeReply("thumbnails", { ...fields, sizes: [4, 0, 0] }, [images], 3)).toThrow(/add up to 4/);
    expect(() => decodeReply("thumbnails", { ...fields, urls: [null] }, [images], 3)).toThrow(/different lengths/);
    expect(() => decodeReply("thumbnails", { ...fields, sizes: [5, -1, 1] }, [images], 3)).toThrow(/sizes/);
    expect(() => decodeReply("thumbnails", fields, [], 3)).toThrow(/buffer 0 is missing/);
  });

  it("decodes a find reply (the galaxy the kernel focused) and checks its position", () => {
    const fields = { query: "J1", match: "sky", position: 4, id: "e", completions: [], n_completions: 0, separation_arcsec: 1.5, radius_arcsec: 5 };
    expect(decodeReply("find", fields, [], 10)).toEqual(fields);
    const prefix = { ...fields, match: "prefix", position: -1, id: null, completions: ["a1", "a2"], n_completions: 7, separation_arcsec: null, radius_arcsec: null };
    expect(decodeReply("find", prefix, [], 10)).toEqual(prefix);
    expect(() => decodeReply("find", { ...fields, position: 10 }, [], 10)).toThrow(/not below n = 10/);
    expect(() => decodeReply("find", { ...fields, match: "fuzzy" }, [], 10)).toThrow(/unknown match/);
  });

  it("decodes a selection_page reply: one position and value per id", () => {
    const positions = new DataView(new Uint32Array([7, 2]).buffer);
    const values = new DataView(new Float32Array([0.5, Number.NaN]).buffer);
    const reply = decodeReply("selection_page", { total: 9, offset: 4, ids: ["h", "c"] }, [positions, values], 10);
    expect(reply).toMatchObject({ total: 9, offset: 4, ids: ["h", "c"] });
    expect(Array.from(reply.positions)).toEqual([7, 2]);
    expect(Number.isNaN(reply.values[1])).toBe(true);
    expect(() => decodeReply("selection_page", { total: 9, offset: 4, ids: ["h"] }, [positions, values], 10)).toThrow(/2 positions for 1 ids/);
  });

  it("decodes label delta events and error events", () => {
    const buffers = [new DataView(new Uint32Array([2]).buffer), new DataView(new Uint8Array([1]).buffer)];
    const event = decodeEvent({ type: "event", kind: "labels", version: 2, base_version: 1 }, buffers, 3);
    expect(event).toMatchObject({ kind: "labels", version: 2, base_version: 1, codes: new Uint8Array([1]) });
    expect(decodeEvent({ type: "event", kind: "error", message: "boom" }, [], 3)).toEqual({
      kind: "error",
      message: "boom",
    });
    expect(decodeEvent({ type: "reply", kind: "labels" }, [], 3)).toBeNull();
    expect(decodeEvent({ type: "event", kind: "zoom_to_selection" }, [], 3)).toEqual({ kind: "zoom_to_selection" });
    expect(decodeReply("color_by", { column: null }, [], 3)).toEqual({ column: null });
    expect(decodeReply("color_by", { column: "mag" }, [], 3)).toEqual({ column: "mag" });
    expect(() => decodeEvent({ type: "event", kind: "labels", version: 2, base_version: 1 }, buffers, 2)).toThrow(
      /not below n = 2/,
    );
    expect(() => decodeEvent({ type: "event", kind: "nope" }, [], 2)).toThrow(/unknown event kind/);
  });

  it("refuses a message over the size bound", () => {
    expect(() => checkMessageSize(MAX_MESSAGE_BYTES + 1, MAX_MESSAGE_BYTES, "the selection")).toThrow(
      /the selection needs 8\.0 MB, over the 8\.0 MB message limit: not sent/,
    );
    expect(() => checkMessageSize(MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES, "x")).not.toThrow();
  });
});
