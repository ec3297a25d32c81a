/**
 * One structured JSON line per notable event: `{"msg": "...", ...fields}`. Fields carry ids, counts
 * and error texts; never tokens, secrets or request/tracker bodies.
 */
import { redactSecrets } from "./redact";

type Fields = Record<string, unknown>;

function line(msg: string, fields: Fields): string {
  // A credential a tracker echoed into an error message never reaches a log line.
  return redactSecrets(JSON.stringify({ msg, ...fields }));
}

export const log = {
  info(msg: string, fields: Fields = {}): void {
    console.log(line(msg, fields));
  },
  error(msg: string, fields: Fields = {}): void {
    console.error(line(msg, fields));
  },
};

/** An error as one short line for logs and stored error columns: "Name: message", cut at `max`. */
export function errorText(err: unknown, max = 500): string {
  return redactSecrets(err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, max);
}
