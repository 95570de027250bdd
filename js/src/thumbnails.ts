// Thumbnails from the kernel: encoded image bytes (turned into object URLs) or URLs that the
// browser loads itself. Results are cached per position; failures carry a human reason and are
// not cached, nor are requests cancelled because their tiles went away.

import type { ImageKind } from "./protocol";
import type { Requests } from "./requests";

export type Thumbnail = { ok: true; src: string } | { ok: false; reason: string };

const IMAGE_TIMEOUT_MS = 15000;

export class Thumbnails {
  private cache = new Map<number, Promise<Thumbnail>>();
  private objectUrls = new Map<number, string>();

  /** `request`: "thumbnail" (tiles, the card) or "image" (the large view's size). */
  constructor(
    private readonly requests: Requests,
    private readonly kind: ImageKind,
    private readonly capacity = 512,
    private readonly request: "thumbnail" | "image" = "thumbnail",
  ) {}

  /** The thumbnail of `position`; `signal` cancels its request when the caller no longer needs it. */
  get(position: number, signal?: AbortSignal): Promise<Thumbnail> {
    if (this.kind === "none") return Promise.resolve({ ok: false, reason: "no images" });
    const cached = this.cache.get(position);
    if (cached) {
      // Refresh its place in the LRU order.
      this.cache.delete(position);
      this.cache.set(position, cached);
      return cached;
    }
    const result = this.fetch(position, signal);
    this.cache.set(position, result);
    result.then((thumb) => {
      if (!thumb.ok && this.cache.get(position) === result) this.cache.delete(position); // try again next time
    });
    this.evict();
    return result;
  }

  /**
   * The thumbnails of `positions`, those not cached asked for in one request (`signal` cancels
   * it); results join the same cache as `get`'s.
   */
  getMany(positions: readonly number[], signal?: AbortSignal): Promise<Thumbnail>[] {
    if (this.kind === "none") return positions.map(() => Promise.resolve({ ok: false, reason: "no images" }));
    const missing = positions.filter((position) => !this.cache.has(position));
    const batch = missing.length > 0 ? this.fetchMany(missing, signal) : null;
    missing.forEach((position, i) => {
      const result = batch!.then((thumbnails) => thumbnails[i]);
      this.cache.set(position, result);
      result.then((thumb) => {
        if (!thumb.ok && this.cache.get(position) === result) this.cache.delete(position);
      });
    });
    const results = positions.map((position) => this.get(position, signal));
    this.evict();
    return results;
  }

  private async fetchMany(positions: number[], signal?: AbortSignal): Promise<Thumbnail[]> {
    const reply = await this.requests.request("thumbnails", { positions }, { signal });
    if (!reply.ok) return positions.map(() => ({ ok: false, reason: reply.reason }));
    let offset = 0;
    return positions.map((position, i): Thumbnail => {
      const size = reply.sizes[i];
      const bytes = reply.images.subarray(offset, offset + size);
      offset += size;
      const reason = reply.reasons[i];
      const url = reply.urls[i];
      const mime = reply.mimes[i];
      if (reason !== null) return { ok: false, reason };
      if (url !== null) return { ok: true, src: url };
      const src = URL.createObjectURL(new Blob([bytes.slice()], { type: mime ?? "image/png" }));
      this.objectUrls.set(position, src);
      return { ok: true, src };
    });
  }

  private async fetch(position: number, signal?: AbortSignal): Promise<Thumbnail> {
    const reply = await this.requests.request(this.request, { position }, { signal });
    if (!reply.ok) return { ok: false, reason: reply.reason };
    if ("url" in reply) return { ok: true, src: reply.url };
    const blob = new Blob([reply.image.slice()], { type: reply.mime });
    const src = URL.createObjectURL(blob);
    this.objectUrls.set(position, src);
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

/**
 * Show `src` in `img`; resolves with a failure reason if it errors or takes too long: the HTTP
 * status, a network error, not an image, or a time-out (the caller shows the URL on hover).
 */
export function loadInto(img: HTMLImageElement, src: string): Promise<Thumbnail> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => finish({ ok: false, reason: `timed out after ${IMAGE_TIMEOUT_MS / 1000} s` }),
      IMAGE_TIMEOUT_MS,
    );
    function finish(result: Thumbnail): void {
      clearTimeout(timer);
      img.onload = null;
      img.onerror = null;
      resolve(result);
    }
    img.onload = () => finish({ ok: true, src });
    img.onerror = () => void whyNotLoaded(src).then((reason) => finish({ ok: false, reason }));
    img.src = src;
  });
}

/**
 * Why an image URL did not load, asked again with fetch, which reports what <img> does not: the
 * HTTP status where the server lets the page read it (CORS), else whether the server answered.
 */
async function whyNotLoaded(src: string): Promise<string> {
  if (src.startsWith("blob:") || src.startsWith("data:")) return "not an image the browser can show";
  const ask = (mode: RequestMode) => fetch(src, { mode, cache: "force-cache", signal: AbortSignal.timeout(IMAGE_TIMEOUT_MS) });
  try {
    const response = await ask("cors");
    if (!response.ok) return `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    const type = response.headers.get("content-type") ?? "";
    return type && !type.startsWith("image/") ? `not an image (${type})` : "not an image the browser can show";
  } catch (error) {
    if (timedOut(error)) return `timed out after ${IMAGE_TIMEOUT_MS / 1000} s`;
  }
  try {
    await ask("no-cors"); // opaque: the server answered, but hides its status from the page
    return "the server answered with an error or not an image (its status is hidden: no CORS)";
  } catch (error) {
    if (timedOut(error)) return `timed out after ${IMAGE_TIMEOUT_MS / 1000} s`;
    return navigator.onLine === false ? "network error: offline" : "network error: the server is unreachable";
  }
}

function timedOut(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}
