// The slice of the anywidget model API that the widget uses.

export type Callback = (...args: never[]) => void;

export interface Model {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, callback: Callback): void;
  off(event?: string | null, callback?: Callback | null): void;
  send(content: Record<string, unknown>, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
}
