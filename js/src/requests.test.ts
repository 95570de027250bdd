import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Latest, Requests } from "./requests";

type Sent = [Record<string, unknown>, Uint8Array[]];

function setup(maxMessageBytes = 1 << 20, viewId = "v1"): { requests: Requests; sent: Sent[] } {
  const sent: Sent[] = [];
  const options = { timeoutMs: 2000, n: 10, maxMessageBytes };
  const requests = new Requests((content, buffers) => sent.push([content, buffers]), options, viewId);
  return { requests, sent };
}

const view = (array: ArrayBufferView) => new DataView(array.buffer, array.byteOffset, array.byteLength);

describe("Requests", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("numbers requests and resolves each with its own typed reply", async () => {
    const { requests, sent } = setup();
    const first = requests.request("neighbors", { position: 4 });
    const second = requests.request("hover", { position: 5 });
    expect(sent.map(([content]) => content)).toEqual([
      { type: "request", kind: "neighbors", view: "v1", request: 1, position: 4 },
      { type: "request", kind: "hover", view: "v1", request: 2, position: 5 },
    ]);
    expect(requests.handle({ type: "reply", view: "v1", kind: "hover", request: 2, ok: true, id: "b", fields: [] })).toBe(true);
    const buffers = [view(new Uint32Array([4, 7])), view(new Float32Array([0, 1]))];
    const reply = { type: "reply", view: "v1", kind: "neighbors", request: 1, ok: true, position: 4, id: "a", ids: ["a", "c"] };
    expect(requests.handle(reply, buffers)).toBe(true);
    const [a, b] = await Promise.all([first, second]);
    if (!a.ok || !b.ok) throw new Error("expected replies");
    expect(Array.from(a.positions)).toEqual([4, 7]);
    expect(a.ids).toEqual(["a", "c"]);
    expect(b.id).toBe("b");
    expect(requests.size).toBe(0);
  });

  it("turns a failed, mismatched or malformed reply into a failure with its reason", async () => {
    const { requests } = setup();
    const failed = requests.request("hover", { position: 1 });
    requests.handle({ type: "reply", view: "v1", kind: "hover", request: 1, ok: false, reason: "no such row" });
    expect(await failed).toEqual({ ok: false, reason: "no such row", cancelled: false });
    const mismatched = requests.request("hover", { position: 1 });
    requests.handle({ type: "reply", view: "v1", kind: "labels", request: 2, ok: true, version: 1 });
    expect(await mismatched).toMatchObject({ ok: false, reason: "reply of kind labels to a hover request" });
    const malformed = requests.request("neighbors", { position: 1 });
    requests.handle({ type: "reply", view: "v1", kind: "neighbors", request: 3, ok: true, position: 1, id: "a", ids: ["a"] });
    expect(await malformed).toMatchObject({ ok: false, reason: expect.stringMatching(/malformed neighbors reply/) });
  });

  it("ignores messages that answer nothing pending", () => {
    const { requests } = setup();
    expect(requests.handle({ type: "reply", view: "v1", kind: "hover", request: 99, ok: true })).toBe(false);
    expect(requests.handle("not a reply")).toBe(false);
    expect(requests.handle({ type: "event", kind: "labels" })).toBe(false);
  });

  it("fails a request that gets no answer in time", async () => {
    const { requests } = setup();
    const pending = requests.request("thumbnail", { position: 1 });
    vi.advanceTimersByTime(2000);
    expect(await pending).toEqual({ ok: false, reason: "no answer within 2 s", cancelled: false });
    expect(requests.handle({ type: "reply", view: "v1", kind: "thumbnail", request: 1, ok: true, url: "u" })).toBe(false);
    const patient = requests.request("undo", {}, { timeoutMs: 5000 });
    vi.advanceTimersByTime(4999);
    requests.handle({ type: "reply", view: "v1", kind: "undo", request: 2, ok: true, saved: true, version: 3 });
    expect(await patient).toEqual({ ok: true, saved: true, version: 3 });
  });

  it("cancels: tells the kernel, resolves at once and ignores the late reply", async () => {
    const { requests, sent } = setup();
    const latest = new Latest();
    const stale = requests.request("hover", { position: 1 }, { signal: latest.next() });
    const fresh = requests.request("hover", { position: 2 }, { signal: latest.next() });
    expect(await stale).toEqual({ ok: false, reason: "cancelled", cancelled: true });
    expect(sent[1][0]).toEqual({ type: "cancel", view: "v1", request: 1 });
    expect(requests.handle({ type: "reply", view: "v1", kind: "hover", request: 1, ok: true, id: "a", fields: [] })).toBe(false);
    requests.handle({ type: "reply", view: "v1", kind: "hover", request: 2, ok: true, id: "b", fields: [] });
    expect(await fresh).toMatchObject({ ok: true, id: "b" });
    latest.cancel(); // after the reply: nothing more is sent
    expect(sent.length).toBe(3);
  });

  it("refuses a request over the message size bound without sending it", async () => {
    const { requests, sent } = setup(1000);
    const big = await requests.request("label", { positions: new Uint32Array(1000), label: "a" });
    expect(big).toMatchObject({ ok: false, reason: expect.stringMatching(/over the 0\.0 MB message limit: not sent/) });
    expect(sent.length).toBe(0);
  });

  it("takes only the replies to its own view: views of one widget number requests alike", async () => {
    // A kernel answering every request, its replies broadcast to every view (as the comm does).
    const views: Requests[] = [];
    const kernel = (content: Record<string, unknown>) => {
      if (content.type !== "request") return;
      const position = content.position as number;
      const reply = { type: "reply", kind: content.kind, view: content.view, request: content.request, ok: true };
      const fields = content.kind === "hover" ? { id: `G${position}`, fields: [] } : { url: `u${position}` };
      queueMicrotask(() => {
        for (const other of views) other.handle({ ...reply, ...fields });
      });
    };
    const options = { timeoutMs: 2000, n: 10, maxMessageBytes: 1 << 20 };
    for (let i = 0; i < 3; i++) views.push(new Requests(kernel, options));
    expect(new Set(views.map((v) => v.view)).size).toBe(3);
    expect(views[0].view).toMatch(/^[0-9a-f]{16}$/);
    // Request 1 of each view is of another kind: each view must get its own.
    const [hover, thumbnail, hover2] = await Promise.all([
      views[0].request("hover", { position: 1 }),
      views[1].request("thumbnail", { position: 2 }),
      views[2].request("hover", { position: 3 }),
    ]);
    expect(hover).toMatchObject({ ok: true, id: "G1" });
    expect(thumbnail).toMatchObject({ ok: true, url: "u2" });
    expect(hover2).toMatchObject({ ok: true, id: "G3" });
    // A view opened later numbers from 1 too, and takes only its own.
    views.push(new Requests(kernel, options));
    expect(await views[3].request("thumbnail", { position: 4 })).toMatchObject({ ok: true, url: "u4" });
    expect(views.every((v) => v.size === 0)).toBe(true);
  });

  it("ignores a reply naming another view, or none", () => {
    const { requests } = setup();
    void requests.request("undo", {});
    const reply = { type: "reply", kind: "undo", request: 1, ok: true, saved: true, version: 1 };
    expect(requests.handle({ ...reply, view: "v2" })).toBe(false);
    expect(requests.handle(reply)).toBe(false);
    expect(requests.size).toBe(1);
    expect(requests.handle({ ...reply, view: "v1" })).toBe(true);
  });

  it("fails everything pending when disposed", async () => {
    const { requests } = setup();
    const pending = requests.request("undo", {});
    requests.dispose();
    expect((await pending).ok).toBe(false);
    expect(requests.size).toBe(0);
  });
});
