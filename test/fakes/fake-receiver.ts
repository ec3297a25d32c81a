/**
 * A subscriber's endpoint: records every POST (headers, raw body, arrival time by the test clock)
 * and answers as the test scripts it. Behaves like an ordinary webhook receiver: it reads the body,
 * answers quickly, and may answer 410 (Standard Webhooks: "stop sending") or 429 with Retry-After.
 */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  headers: Record<string, string>;
  body: string;
  json: any;
  at: number;
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string };

export class FakeReceiver {
  readonly received: Received[] = [];
  /** Answers used in order, one per request; when empty, `answer` decides (default 200). */
  readonly script: Answer[] = [];
  answer: (r: Received) => Answer = () => ({ status: 200, body: "ok" });
  /** Awaited after a request is recorded, before it is answered: a test's hook into "while the receiver answers". */
  onReceive: ((r: Received) => Promise<void>) | null = null;

  constructor(readonly url: string) {}

  async handle(request: Request): Promise<Response> {
    const body = await request.text();
    const headers = Object.fromEntries(request.headers);
    const r: Received = {
      id: headers["webhook-id"] ?? "",
      timestamp: headers["webhook-timestamp"] ?? "",
      signature: headers["webhook-signature"] ?? "",
      headers,
      body,
      json: JSON.parse(body),
      at: Date.now(),
    };
    this.received.push(r);
    await this.onReceive?.(r);
    const a = this.script.shift() ?? this.answer(r);
    return new Response(a.body ?? "", { status: a.status, headers: a.headers });
  }

  ids(): string[] {
    return this.received.map((r) => r.id);
  }
}
