import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Requests } from "./requests";

describe("Requests", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("numbers requests and resolves each with its own reply", async () => {
    const sent: Record<string, unknown>[] = [];
    const requests = new Requests((content) => sent.push(content), 1000);
    const first = requests.request("neighbours", { index: 4 });
    const second = requests.request("thumbnail", { index: 5 });
    expect(sent).toEqual([
      { index: 4, type: "neighbours", request: 1 },
      { index: 5, type: "thumbnail", request: 2 },
    ]);
    const buffer = new DataView(new ArrayBuffer(3));
    expect(requests.handle({ type: "thumbnail", request: 2, ok: true }, [buffer])).toBe(true);
    expect(requests.handle({ type: "neighbours", request: 1, ok: true, ids: ["a"] })).toBe(true);
    const [a, b] = await Promise.all([first, second]);
    expect(a.reply.ids).toEqual(["a"]);
    expect(b.buffers).toEqual([buffer]);
    expect(requests.size).toBe(0);
  });

  it("ignores messages that answer nothing pending", () => {
    const requests = new Requests(() => {}, 1000);
    expect(requests.handle({ type: "x", request: 99, ok: true })).toBe(false);
    expect(requests.handle("not a reply")).toBe(false);
    expect(requests.handle({ type: "x", request: 1 })).toBe(false);
  });

  it("fails a request that gets no answer in time", async () => {
    const requests = new Requests(() => {}, 2000);
    const pending = requests.request("thumbnail", { index: 1 });
    vi.advanceTimersByTime(2000);
    const { reply } = await pending;
    expect(reply).toEqual({ type: "thumbnail", request: 1, ok: false, reason: "no answer within 2 s" });
    expect(requests.handle({ type: "thumbnail", request: 1, ok: true })).toBe(false);
  });

  it("fails everything pending when disposed", async () => {
    const requests = new Requests(() => {}, 2000);
    const pending = requests.request("hover");
    requests.dispose();
    expect((await pending).reply.ok).toBe(false);
    expect(requests.size).toBe(0);
  });
});
