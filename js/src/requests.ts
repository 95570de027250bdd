// Request/response bookkeeping over the widget's custom messages: every request carries a
// numeric `request` id and the kernel answers with a message carrying the same id.

export interface Reply {
  type: string;
  request: number;
  ok: boolean;
  reason?: string;
  [key: string]: unknown;
}

export interface Response {
  reply: Reply;
  buffers: DataView[];
}

type Send = (content: Record<string, unknown>) => void;

interface Pending {
  resolve: (response: Response) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Requests {
  private next = 1;
  private pending = new Map<number, Pending>();

  constructor(
    private readonly send: Send,
    private readonly timeoutMs: number,
  ) {}

  /** Send `{type, request, ...fields}`; resolves with the reply, or a failed reply on timeout. */
  request(type: string, fields: Record<string, unknown> = {}): Promise<Response> {
    const id = this.next++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        const seconds = Math.round(this.timeoutMs / 100) / 10;
        resolve({ reply: failure(type, id, `no answer within ${seconds} s`), buffers: [] });
      }, this.timeoutMs);
      this.pending.set(id, { resolve, timer });
      this.send({ ...fields, type, request: id });
    });
  }

  /** Route an incoming message; returns false if it answers no pending request. */
  handle(content: unknown, buffers: DataView[] = []): boolean {
    if (!isReply(content)) return false;
    const pending = this.pending.get(content.request);
    if (!pending) return false;
    this.pending.delete(content.request);
    clearTimeout(pending.timer);
    pending.resolve({ reply: content, buffers });
    return true;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Fail every pending request (the view is going away). */
  dispose(): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.resolve({ reply: failure("disposed", id, "view closed"), buffers: [] });
    }
    this.pending.clear();
  }
}

function failure(type: string, request: number, reason: string): Reply {
  return { type, request, ok: false, reason };
}

function isReply(content: unknown): content is Reply {
  if (typeof content !== "object" || content === null) return false;
  const c = content as Record<string, unknown>;
  return typeof c.type === "string" && typeof c.request === "number" && typeof c.ok === "boolean";
}
