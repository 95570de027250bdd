// Thumbnails from the kernel: encoded image bytes (turned into object URLs) or URLs that the
// browser loads itself. Results are cached per point index; failures carry a human reason.

import type { Requests } from "./requests";

export type Thumbnail = { ok: true; src: string } | { ok: false; reason: string };
export type ImageKind = "url" | "bytes" | "none";

const IMAGE_TIMEOUT_MS = 15000;

export class Thumbnails {
  private cache = new Map<number, Promise<Thumbnail>>();
  private objectUrls = new Map<number, string>();

  constructor(
    private readonly requests: Requests,
    private readonly kind: ImageKind,
    private readonly capacity = 512,
  ) {}

  get(index: number): Promise<Thumbnail> {
    if (this.kind === "none") return Promise.resolve({ ok: false, reason: "no images" });
    const cached = this.cache.get(index);
    if (cached) {
      // Refresh its place in the LRU order.
      this.cache.delete(index);
      this.cache.set(index, cached);
      return cached;
    }
    const result = this.fetch(index);
    this.cache.set(index, result);
    result.then((thumb) => {
      if (!thumb.ok) this.cache.delete(index); // try again next time
    });
    this.evict();
    return result;
  }

  private async fetch(index: number): Promise<Thumbnail> {
    const { reply, buffers } = await this.requests.request("thumbnail", { index });
    if (!reply.ok) return { ok: false, reason: reply.reason ?? "unavailable" };
    if (typeof reply.url === "string") return { ok: true, src: reply.url };
    if (buffers.length !== 1) return { ok: false, reason: "reply carried no image" };
    const view = buffers[0];
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const blob = new Blob([bytes.slice()], { type: String(reply.mime ?? "image/png") });
    const src = URL.createObjectURL(blob);
    this.objectUrls.set(index, src);
    return { ok: true, src };
  }

  private evict(): void {
    while (this.cache.size > this.capacity) {
      const oldest = this.cache.keys().next().value as number;
      this.cache.delete(oldest);
      const src = this.objectUrls.get(oldest);
      if (src) {
        URL.revokeObjectURL(src);
        this.objectUrls.delete(oldest);
      }
    }
  }

  dispose(): void {
    for (const src of this.objectUrls.values()) URL.revokeObjectURL(src);
    this.objectUrls.clear();
    this.cache.clear();
  }
}

/** Show `src` in `img`; resolves with a failure reason if it errors or takes too long. */
export function loadInto(img: HTMLImageElement, src: string): Promise<Thumbnail> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish({ ok: false, reason: "timed out" }), IMAGE_TIMEOUT_MS);
    function finish(result: Thumbnail): void {
      clearTimeout(timer);
      img.onload = null;
      img.onerror = null;
      resolve(result);
    }
    img.onload = () => finish({ ok: true, src });
    img.onerror = () => finish({ ok: false, reason: "could not load" });
    img.src = src;
  });
}
