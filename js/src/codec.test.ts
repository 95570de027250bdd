import { describe, expect, it } from "vitest";
import { asBytes, asFloat32, asUint32, encodeIndices, sameIndexSet, sortedIndices, splitXY } from "./codec";

describe("binary trait values", () => {
  it("reads DataViews, ArrayBuffers and typed arrays alike", () => {
    const values = new Float32Array([1.5, -2, 3]);
    expect(Array.from(asFloat32(new DataView(values.buffer)))).toEqual([1.5, -2, 3]);
    expect(Array.from(asFloat32(values.buffer))).toEqual([1.5, -2, 3]);
    expect(Array.from(asFloat32(values))).toEqual([1.5, -2, 3]);
    expect(asBytes(null).length).toBe(0);
  });

  it("copies views that are not 4-byte aligned", () => {
    const bytes = new Uint8Array(9);
    new DataView(bytes.buffer).setUint32(1, 7, true);
    new DataView(bytes.buffer).setUint32(5, 4000000000, true);
    const view = new DataView(bytes.buffer, 1, 8);
    expect(Array.from(asUint32(view))).toEqual([7, 4000000000]);
  });

  it("rejects a byte count that is not whole values", () => {
    expect(() => asFloat32(new Uint8Array(6))).toThrow(/not a whole number/);
  });

  it("splits interleaved coordinates", () => {
    const { x, y } = splitXY(new Float32Array([0, 1, 2, 3, 4, 5]));
    expect(Array.from(x)).toEqual([0, 2, 4]);
    expect(Array.from(y)).toEqual([1, 3, 5]);
    expect(() => splitXY(new Float32Array(3))).toThrow(RangeError);
  });

  it("encodes selections sorted and without duplicates", () => {
    const view = encodeIndices([9, 2, 9, 5]);
    expect(Array.from(asUint32(view))).toEqual([2, 5, 9]);
    expect(view.byteLength).toBe(12);
    expect(asUint32(encodeIndices([])).length).toBe(0);
  });

  it("sorts indices numerically and keeps already sorted typed arrays as they are", () => {
    expect(Array.from(sortedIndices([100000, 9, 9, 10, 0]))).toEqual([0, 9, 10, 100000]);
    expect(Array.from(sortedIndices(new Set([3, 1])))).toEqual([1, 3]);
    const canonical = new Uint32Array([1, 5, 70000]);
    expect(sortedIndices(canonical)).toBe(canonical);
    expect(Array.from(sortedIndices(new Uint32Array([5, 5, 1])))).toEqual([1, 5]);
  });

  it("compares index sets", () => {
    expect(sameIndexSet([1, 2, 3], new Uint32Array([3, 1, 2]))).toBe(true);
    expect(sameIndexSet([1, 2], [1, 2, 3])).toBe(false);
    expect(sameIndexSet([1, 4], [1, 2])).toBe(false);
    expect(sameIndexSet([2, 2, 1], new Uint32Array([1, 2]))).toBe(true);
  });
});
