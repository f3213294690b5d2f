// The one door to the Rust side: generated bindings, with errors thrown as
// AppError ({kind, message}) so screens can `catch` them.
import { Channel } from "@tauri-apps/api/core";
import { commands } from "./bindings";
import type { AppError, Progress } from "./bindings";

export type { AppError };

export class CommandError extends Error {
  kind: AppError["kind"];
  constructor(e: AppError) {
    super(e.message);
    this.kind = e.kind;
  }
}

type Res<T> = { status: "ok"; data: T } | { status: "error"; error: AppError };

export async function call<T>(p: Promise<Res<T>>): Promise<T> {
  const r = await p;
  if (r.status === "error") throw new CommandError(r.error);
  return r.data;
}

export function errorText(e: unknown): string {
  if (e instanceof CommandError) return e.message;
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}

export function progressChannel(onProgress: (p: Progress) => void): Channel<Progress> {
  const ch = new Channel<Progress>();
  ch.onmessage = onProgress;
  return ch;
}

export { commands };
