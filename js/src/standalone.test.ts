import { describe, expect, it } from "vitest";
import { base64Bytes, type PageData, StaticModel } from "./standalone";

function page(): PageData {
  return {
    state: { _config: { n: 2 }, _label_meta: { version: 7 }, k: 3 },
    binary: { _points: btoa(String.fromCharCode(1, 2, 3, 4)) },
    hover: { ids: ["a", "b"], columns: ["z", "type"], text: [["0.1", "0.2"], ["spiral", "ring"]] },
    thumbnails: ["data:image/png;base64,AAAA", ""],
    labels: btoa(String.fromCharCode(0, 2)),
    replies: [
      {
        kind: "neighbors",
        position: 1,
        content: { position: 1, id: "b", ids: ["a"] },
        buffers: [btoa(String.fromCharCode(0, 0, 0, 0)), btoa(String.fromCharCode(0, 0, 128, 63))],
      },
    ],
  };
}

describe("StaticModel", () => {
  it("holds the saved traits, binary ones as DataViews", () => {
    const model = new StaticModel(page());
    expect(model.get("k")).toBe(3);
    const points = model.get("_points");
    expect(new Uint8Array(points.buffer)).toEqual(Uint8Array.of(1, 2, 3, 4));
  });

  it("answers hover, thumbnail and labels requests from the page and refuses the others", () => {
    const model = new StaticModel(page());
    expect(model.answer({ kind: "hover", position: 1 })).toEqual([
      { ok: true, id: "b", fields: [["z", "0.2"], ["type", "ring"]] },
      [],
    ]);
    expect(model.answer({ kind: "thumbnail", position: 0 })[0]).toEqual({
      ok: true,
      url: "data:image/png;base64,AAAA",
    });
    expect(model.answer({ kind: "thumbnail", position: 1 })[0].ok).toBe(false);
    const [many, manyBuffers] = model.answer({ kind: "thumbnails", positions: [0, 1, 7] });
    expect(many).toEqual({
      ok: true,
      urls: ["data:image/png;base64,AAAA", null, null],
      mimes: [null, null, null],
      sizes: [0, 0, 0],
      reasons: [null, "no thumbnail saved in this page", "no thumbnail saved in this page"],
    });
    expect(manyBuffers.map((b) => b.length)).toEqual([0]);
    const [labels, buffers] = model.answer({ kind: "labels" });
    expect(labels).toEqual({ ok: true, version: 7 });
    expect(buffers).toEqual([Uint8Array.of(0, 2)]);
    expect(model.answer({ kind: "neighbors", position: 0 })[0]).toMatchObject({ ok: false });
    const [neighbors, neighborBuffers] = model.answer({ kind: "neighbors", position: 1 });
    expect(neighbors).toEqual({ ok: true, position: 1, id: "b", ids: ["a"] });
    expect(new Float32Array(neighborBuffers[1].buffer)).toEqual(Float32Array.of(1));
    expect(model.answer({ kind: "hover", position: 2 })[0]).toMatchObject({ ok: false });
  });

  it("replies on a later tick as a kernel would, and emits changes on set", async () => {
    const model = new StaticModel(page());
    const messages: unknown[] = [];
    model.on("msg:custom", (content: unknown) => messages.push(content));
    let changed = 0;
    model.on("change:_focus", () => changed++);
    model.set("_focus", 1);
    expect(changed).toBe(1);
    model.send({ type: "request", kind: "hover", request: 5, position: 0 });
    model.send({ type: "cancel", request: 5 });
    expect(messages).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(messages).toEqual([
      { type: "reply", kind: "hover", request: 5, ok: true, id: "a", fields: [["z", "0.1"], ["type", "spiral"]] },
    ]);
  });

  it("decodes base64", () => {
    expect(base64Bytes(btoa("\u0000\u00ff"))).toEqual(Uint8Array.of(0, 255));
  });
});

describe("StaticModel of a map beyond its point budget", () => {
  it("answers map requests from the saved density and sample, and hovers of sampled galaxies only", () => {
    const data = page();
    data.state._config = { n: 10 };
    data.hover = { ids: ["c", "h"], columns: ["z"], text: [["0.3", "0.8"]], positions: [2, 7] };
    data.thumbnails = ["", "data:image/png;base64,BBBB"];
    data.replies.push(
      { kind: "map_density", position: "all", content: { size: 1, max: 4 }, buffers: [btoa(String.fromCharCode(255))] },
      { kind: "map_view", position: "", content: { layout: "pca", total: 10, count: 2, next_rank: 3 }, buffers: [] },
    );
    const model = new StaticModel(data);
    expect(model.answer({ kind: "hover", position: 7 })[0]).toEqual({ ok: true, id: "h", fields: [["z", "0.8"]] });
    expect(model.answer({ kind: "hover", position: 3 })[0]).toMatchObject({ ok: false });
    expect(model.answer({ kind: "thumbnail", position: 7 })[0]).toEqual({ ok: true, url: "data:image/png;base64,BBBB" });
    const [density, levels] = model.answer({ kind: "map_density", size: 512, layer: "all" });
    expect(density).toEqual({ ok: true, size: 1, max: 4 });
    expect(levels).toEqual([Uint8Array.of(255)]);
    expect(model.answer({ kind: "map_density", size: 512, layer: "selection" })[0]).toMatchObject({ ok: false });
    // Every view is answered with the sample: there is no kernel to load more.
    expect(model.answer({ kind: "map_view", x0: 0, y0: 0, x1: 0.5, y1: 0.5, limit: 10, from_rank: 0 })[0]).toMatchObject({ ok: true, count: 2 });
  });
});
