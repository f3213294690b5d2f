// Titles for the error kinds the Rust side reports; the message says what to do.
import { CommandError, errorText } from "./api";

const TITLES: Record<string, string> = {
  unreachable: "Server unreachable",
  tls: "Secure connection failed",
  wrong_password: "Wrong email or password",
  locked: "Account locked",
  mfa_invalid: "Code not accepted",
  session_expired: "Signed out",
  forbidden: "Not allowed",
  keyring_unavailable: "No keyring available",
  trust_alarm: "Trust check failed",
  invalid_input: "Check your input",
  io: "File problem",
  cancelled: "Cancelled",
  server: "Server error",
  not_signed_in: "Not signed in",
};

export function describe(e: unknown): { title: string; text: string; kind: string } {
  const kind = e instanceof CommandError ? e.kind : "server";
  return { title: TITLES[kind] ?? "Something went wrong", text: errorText(e), kind };
}
