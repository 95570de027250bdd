// Typed request/reply bookkeeping over the widget's custom messages (protocol.ts): every request
// carries the view's random `view` id and a numeric `request` id, the kernel's reply both. Every
// view of a widget (a notebook may show one widget twice, two tabs may show one kernel's widget)
// receives every reply and numbers its requests from 1: a view takes only the replies naming its
// view id. A reply is decoded and checked by its kind's decoder; a request can be cancelled (an
// AbortSignal), which tells the kernel `{type: "cancel", view, request}` and resolves it at once
// as cancelled; a late reply is ignored.

import {
  decodeReply,
  encodeRequest,
  type Failure,
  isObject,
  isRequestKind,
  type Message,
  messageBytes,
  type Params,
  type Reply,
  type RequestKind,
} from "./protocol";

/** Sends one message to the kernel. */
export type Send = (content: Record<string, unknown>, buffers: Uint8Array<ArrayBuffer>[]) => void;

interface Pending {
  kind: RequestKind;
  resolve: (reply: Reply<RequestKind>) => void;
  timer: ReturnType<typeof setTimeout>;
  abort?: () => void;
  signal?: AbortSignal;
}

export interface RequestOptions {
  /** Cancel the request when this aborts. */
  signal?: AbortSignal;
  /** Give up after this long (default: the constructor's `timeoutMs`). */
  timeoutMs?: number;
}

/** A random id for a view: 64 bits from the browser's random source, as hex. */
export function randomViewId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Requests {
  private next = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly send: Send,
    private readonly options: { timeoutMs: number; n: number; maxMessageBytes: number },
    /** This view's id, sent with every request and cancel; replies naming another are not ours. */
    readonly view: string = randomViewId(),
  ) {}

  /** Send a request of `kind`; resolves with its decoded reply, or a failure (never rejects). */
  request<K extends RequestKind>(
    kind: K,
    params: Params<K>,
    { signal, timeoutMs = this.options.timeoutMs }: RequestOptions = {},
  ): Promise<Reply<K>> {
    if (signal?.aborted) return Promise.resolve(failure("cancelled", true));
    const id = this.next++;
    let message: Message;
    try {
      message = encodeRequest(kind, this.view, id, params);
      const bytes = messageBytes(message);
      if (bytes > this.options.maxMessageBytes) {
        const mb = (x: number) => (x / 1024 / 1024).toFixed(1);
        return Promise.resolve(
          failure(`the ${kind} request needs ${mb(bytes)} MB, over the ${mb(this.options.maxMessageBytes)} MB message limit: not sent`),
        );
      }
    } catch (error) {
      return Promise.resolve(failure(String(error)));
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.settle(id, failure(`no answer within ${Math.round(timeoutMs / 100) / 10} s`));
      }, timeoutMs);
      const entry: Pending = { kind, resolve: resolve as (reply: Reply<RequestKind>) => void, timer };
      if (signal) {
        entry.signal = signal;
        entry.abort = () => {
          if (this.settle(id, failure("cancelled", true))) this.send({ type: "cancel", view: this.view, request: id }, []);
        };
        signal.addEventListener("abort", entry.abort, { once: true });
      }
      this.pending.set(id, entry);
      this.send(message.content, message.buffers);
    });
  }

  /** Route an incoming custom message; returns false if it answers no pending request of this view
   *  (another view's reply, an event, a late reply). */
  handle(content: unknown, buffers: DataView[] = []): boolean {
    if (!isObject(content) || content.type !== "reply" || typeof content.request !== "number") return false;
    if (content.view !== this.view) return false;
    const entry = this.pending.get(content.request);
    if (!entry) return false;
    if (content.ok !== true) {
      // The kernel may not know the kind of a request it could not parse: no kind check here.
      this.settle(content.request, failure(typeof content.reason === "string" ? content.reason : "failed"));
    } else if (!isRequestKind(content.kind) || content.kind !== entry.kind) {
      this.settle(content.request, failure(`reply of kind ${String(content.kind)} to a ${entry.kind} request`));
    } else {
      try {
        const reply = decodeReply(entry.kind, content, buffers, this.options.n);
        this.settle(content.request, { ok: true, ...reply });
      } catch (error) {
        this.settle(content.request, failure(`malformed ${entry.kind} reply: ${String(error)}`));
      }
    }
    return true;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Fail every pending request (the view is going away). */
  dispose(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, failure("view closed", true));
  }

  private settle(id: number, reply: Reply<RequestKind>): boolean {
    const entry = this.pending.get(id);
    if (!entry) return false;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (entry.abort) entry.signal?.removeEventListener("abort", entry.abort);
    entry.resolve(reply);
    return true;
  }
}

function failure(reason: string, cancelled = false): Failure {
  return { ok: false, reason, cancelled };
}

/** One request at a time: `next()` cancels the previous one's signal (stale hover, neighbors). */
export class Latest {
  private controller: AbortController | null = null;

  next(): AbortSignal {
    this.controller?.abort();
    this.controller = new AbortController();
    return this.controller.signal;
  }

  cancel(): void {
    this.controller?.abort();
    this.controller = null;
  }
}
