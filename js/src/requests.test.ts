import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Latest, Requests } from "./requests";

type Sent = [Record<string, unknown>, Uint8Array[]];

function setup(maxMessageBytes = 1 << 20): { requests: Requests; sent: Sent[] } {
  const sent: Sent[] = [];
  const requests = new Requests((content, buffers) => sent.push([content, buffers]), {
    timeoutMs: 2000,
    n: 10,
    maxMessageBytes,
  });
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
      { type: "request", kind: "neighbors", request: 1, position: 4 },
      { type: "request", kind: "hover", request: 2, position: 5 },
    ]);
    expect(requests.handle({ type: "reply", kind: "hover", request: 2, ok: true, id: "b", fields: [] })).toBe(true);
    const buffers = [view(new Uint32Array([4, 7])), view(new Float32Array([0, 1]))];
    const reply = { type: "reply", kind: "neighbors", request: 1, ok: true, position: 4, id: "a", ids: ["a", "c"] };
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
    requests.handle({ type: "reply", kind: "hover", request: 1, ok: false, reason: "no such row" });
    expect(await failed).toEqual({ ok: false, reason: "no such row", cancelled: false });
    const mismatched = requests.request("hover", { position: 1 });
    requests.handle({ type: "reply", kind: "labels", request: 2, ok: true, version: 1 });
    expect(await mismatched).toMatchObject({ ok: false, reason: "reply of kind labels to a hover request" });
    const malformed = requests.request("neighbors", { position: 1 });
    requests.handle({ type: "reply", kind: "neighbors", request: 3, ok: true, position: 1, id: "a", ids: ["a"] });
    expect(await malformed).toMatchObject({ ok: false, reason: expect.stringMatching(/malformed neighbors reply/) });
  });

  it("ignores messages that answer nothing pending", () => {
    const { requests } = setup();
    expect(requests.handle({ type: "reply", kind: "hover", request: 99, ok: true })).toBe(false);
    expect(requests.handle("not a reply")).toBe(false);
    expect(requests.handle({ type: "event", kind: "labels" })).toBe(false);
  });

  it("fails a request that gets no answer in time", async () => {
    const { requests } = setup();
    const pending = requests.request("thumbnail", { position: 1 });
    vi.advanceTimersByTime(2000);
    expect(await pending).toEqual({ ok: false, reason: "no answer within 2 s", cancelled: false });
    expect(requests.handle({ type: "reply", kind: "thumbnail", request: 1, ok: true, url: "u" })).toBe(false);
    const patient = requests.request("undo", {}, { timeoutMs: 5000 });
    vi.advanceTimersByTime(4999);
    requests.handle({ type: "reply", kind: "undo", request: 2, ok: true, saved: true, version: 3 });
    expect(await patient).toEqual({ ok: true, saved: true, version: 3 });
  });

  it("cancels: tells the kernel, resolves at once and ignores the late reply", async () => {
    const { requests, sent } = setup();
    const latest = new Latest();
    const stale = requests.request("hover", { position: 1 }, { signal: latest.next() });
    const fresh = requests.request("hover", { position: 2 }, { signal: latest.next() });
    expect(await stale).toEqual({ ok: false, reason: "cancelled", cancelled: true });
    expect(sent[1][0]).toEqual({ type: "cancel", request: 1 });
    expect(requests.handle({ type: "reply", kind: "hover", request: 1, ok: true, id: "a", fields: [] })).toBe(false);
    requests.handle({ type: "reply", kind: "hover", request: 2, ok: true, id: "b", fields: [] });
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

  it("fails everything pending when disposed", async () => {
    const { requests } = setup();
    const pending = requests.request("undo", {});
    requests.dispose();
    expect((await pending).ok).toBe(false);
    expect(requests.size).toBe(0);
  });
});
