import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { debounce } from "./debounce";

describe("debounce", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs once with the last arguments after the quiet period", () => {
    const calls: number[] = [];
    const f = debounce((x: number) => calls.push(x), 100);
    f(1);
    vi.advanceTimersByTime(60);
    f(2);
    vi.advanceTimersByTime(60);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(40);
    expect(calls).toEqual([2]);
  });

  it("drops a pending call on cancel", () => {
    const calls: number[] = [];
    const f = debounce((x: number) => calls.push(x), 50);
    f(1);
    f.cancel();
    vi.advanceTimersByTime(100);
    expect(calls).toEqual([]);
  });
});
