import { describe, expect, it } from "vitest";
import { decodeReply, encodeRequest } from "./protocol";

const view = (bytes: ArrayBufferLike) => new DataView(bytes);

describe("level-of-detail replies and requests", () => {
  it("decodes a map_view reply into positions and interleaved points", () => {
    const positions = new Uint32Array([2, 5]);
    const points = new Float32Array([0.1, -0.2, 0.3, 0.4]);
    const reply = decodeReply(
      "map_view",
      { layout: "pca", total: 9, count: 2, next_rank: 17 },
      [view(positions.buffer), view(points.buffer)],
      10,
    );
    expect(Array.from(reply.positions)).toEqual([2, 5]);
    expect(Array.from(reply.points)).toEqual(Array.from(points));
    expect([reply.total, reply.next_rank, reply.layout]).toEqual([9, 17, "pca"]);
    expect(() => decodeReply("map_view", { layout: "pca", total: 9, count: 2, next_rank: -1 }, [view(positions.buffer), view(new Float32Array(3).buffer)], 10)).toThrow(/one x, y/);
    expect(() => decodeReply("map_view", { layout: "pca", total: 9, count: 2, next_rank: -1 }, [view(positions.buffer), view(points.buffer)], 5)).toThrow(/not below n/);
  });

  it("checks a density image's size", () => {
    const image = new Uint8Array(16).fill(3);
    expect(decodeReply("map_density", { size: 4, max: 7 }, [view(image.buffer)], 1).density.length).toBe(16);
    expect(() => decodeReply("map_density", { size: 5, max: 7 }, [view(image.buffer)], 1)).toThrow(/expected 25/);
  });

  it("sends a lasso's vertices as a float32 buffer", () => {
    const polygon = new Float32Array([0, 0, 1, 0, 0, 1]);
    const message = encodeRequest("map_lasso", "v1", 3, { mode: "add", polygon });
    expect(message.content).toEqual({ type: "request", kind: "map_lasso", view: "v1", request: 3, mode: "add" });
    expect(Array.from(new Float32Array(message.buffers[0].buffer))).toEqual([0, 0, 1, 0, 0, 1]);
  });
});
