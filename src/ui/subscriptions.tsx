/**
 * The dashboard's event subscriptions: each one's health (a chip, with its rules written on the
 * page), its failing deliveries with every attempt, and the operator's buttons — send a test event,
 * replay, redeliver, enable after an automatic disable. The actions call the functions the API
 * routes call. Nothing here reads or shows a signing secret. Mounted by app.tsx under /ui/subscriptions,
 * behind the dashboard's session and CSRF checks.
 */
import { Hono, type Context } from "hono";
import { catalogDatabase } from "../db/shards";
import type { EventAttemptRow, EventDeliveryRow, SubscriptionRow } from "../db/schema";
import { deliveryCounts, listAttempts, listDeliveries, listSubscriptions } from "../db/subscriptions";
import { eventDispatcher } from "../durable/events-client";
import type { Env } from "../env";
import { NotFound, StateConflict, Unprocessable } from "../errors";
import {
  enableSubscription,
  queuePing,
  redeliver,
  replay,
  requireSubscription,
  SUBSCRIPTION_CHIP_RULES,
  SUBSCRIPTION_CHIPS,
  subscriptionChip,
  type SubscriptionChip,
} from "../events/subscriptions";
import { Layout, type Viewer } from "./pages";

type UiEnv = { Bindings: Env; Variables: { viewer: Viewer } };

/** The chip classes the stylesheet already has, by meaning. */
const CHIP_CLASS: Record<SubscriptionChip, string> = {
  disabled: "chip-paused",
  failing: "chip-failing",
  "dead letters": "chip-failing",
  backlog: "chip-late",
  healthy: "chip-healthy",
};

function Action(props: { viewer: Viewer; action: string; label: string; fields?: Record<string, string> }) {
  if (props.viewer.scope !== "admin") return null;
  return (
    <form method="post" action={props.action} class="inline">
      <input type="hidden" name="_csrf" value={props.viewer.csrf} />
      {Object.entries(props.fields ?? {}).map(([k, v]) => (
        <input type="hidden" name={k} value={v} />
      ))}
      <button type="submit">{props.label}</button>
    </form>
  );
}

function Chip(props: { chip: SubscriptionChip; reason: string | null }) {
  return (
    <>
      <span class={`chip ${CHIP_CLASS[props.chip]}`}>{props.chip}</span>
      {props.reason && <span class="chip-reason"> {props.reason}</span>}
    </>
  );
}

function when(iso: string | null) {
  return iso ? <time datetime={iso}>{iso.replace("T", " ").slice(0, 19)}</time> : <span class="muted">never</span>;
}

function types(sub: SubscriptionRow): string {
  return (JSON.parse(sub.eventTypes) as string[]).join(", ");
}

function ReplayForm(props: { viewer: Viewer; sub: SubscriptionRow }) {
  if (props.viewer.scope !== "admin") return null;
  const id = `replay-after-${props.sub.id}`;
  return (
    <form method="post" action={`/ui/subscriptions/${props.sub.id}/replay`} class="inline">
      <input type="hidden" name="_csrf" value={props.viewer.csrf} />
      <label for={id}>after position</label> <input id={id} name="after" inputmode="numeric" pattern="[0-9]+" size={8} required />{" "}
      <button type="submit">Replay</button>
    </form>
  );
}

function SubscriptionActions(props: { viewer: Viewer; sub: SubscriptionRow }) {
  const base = `/ui/subscriptions/${props.sub.id}`;
  return (
    <>
      {props.sub.enabled ? <Action viewer={props.viewer} action={`${base}/test`} label="Send test event" /> : <Action viewer={props.viewer} action={`${base}/enable`} label="Enable" />}{" "}
      <ReplayForm viewer={props.viewer} sub={props.sub} />
    </>
  );
}

function Rules() {
  return (
    <details>
      <summary>What the chips mean (the first rule that holds wins)</summary>
      <dl>
        {SUBSCRIPTION_CHIPS.map((c) => (
          <>
            <dt>
              <span class={`chip ${CHIP_CLASS[c]}`}>{c}</span>
            </dt>
            <dd>{SUBSCRIPTION_CHIP_RULES[c]}</dd>
          </>
        ))}
      </dl>
    </details>
  );
}

export function SubscriptionsPage(props: { viewer: Viewer; rows: { sub: SubscriptionRow; counts: { pending: number; failed: number } }[]; notice?: string }) {
  return (
    <Layout title="Event subscriptions" viewer={props.viewer}>
      <h1>Event subscriptions</h1>
      {props.notice && <p role="status">{props.notice}</p>}
      <Rules />
      {props.rows.length === 0 ? (
        <p>No subscriptions. Create one with <code>POST /api/v1/subscriptions</code>.</p>
      ) : (
        <table>
          <caption>Every subscription with its health</caption>
          <thead>
            <tr>
              <th scope="col">Endpoint</th>
              <th scope="col">Health</th>
              <th scope="col">Events</th>
              <th scope="col">Pending</th>
              <th scope="col">Failed</th>
              <th scope="col">Last success</th>
              <th scope="col">Position</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map(({ sub, counts }) => {
              const { chip, reason } = subscriptionChip(sub, counts);
              return (
                <tr>
                  <td>
                    <a href={`/ui/subscriptions/${sub.id}`}>{sub.description ?? sub.url}</a>
                    <br />
                    <code>{sub.url}</code>
                  </td>
                  <td>
                    <Chip chip={chip} reason={reason} />
                  </td>
                  <td>{types(sub)}</td>
                  <td>{counts.pending}</td>
                  <td>{counts.failed}</td>
                  <td>{when(sub.lastSuccessAt)}</td>
                  <td>{sub.cursor}</td>
                  <td>
                    <SubscriptionActions viewer={props.viewer} sub={sub} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Layout>
  );
}

function Attempts(props: { attempts: EventAttemptRow[] }) {
  return (
    <ol>
      {props.attempts.map((a) => (
        <li>
          {when(a.attemptedAt)} · {a.status === null ? "no answer" : `HTTP ${a.status}`} · {a.durationMs} ms{a.error && <span class="error"> · {a.error}</span>}
          {a.response ? (
            <>
              {" "}
              · <code>{a.response.slice(0, 200)}</code>
            </>
          ) : null}
        </li>
      ))}
    </ol>
  );
}

export function SubscriptionPage(props: {
  viewer: Viewer;
  sub: SubscriptionRow;
  counts: { pending: number; failed: number };
  failing: EventDeliveryRow[];
  attempts: Map<string, EventAttemptRow[]>;
  notice?: string;
}) {
  const { sub } = props;
  const { chip, reason } = subscriptionChip(sub, props.counts);
  return (
    <Layout title={sub.description ?? sub.url} viewer={props.viewer}>
      <h1>
        {sub.description ?? "Subscription"} <Chip chip={chip} reason={reason} />
      </h1>
      {props.notice && <p role="status">{props.notice}</p>}
      <p>
        <code>{sub.url}</code> · {types(sub)} · payload {sub.payload} · position {sub.cursor} · last success {when(sub.lastSuccessAt)} · last failure {when(sub.lastFailureAt)}
      </p>
      <section aria-labelledby="sub-actions">
        <h2 id="sub-actions">Actions</h2>
        <SubscriptionActions viewer={props.viewer} sub={sub} />
      </section>
      <Rules />
      <section aria-labelledby="failing">
        <h2 id="failing">Failing deliveries</h2>
        {props.failing.length === 0 ? (
          <p>None.</p>
        ) : (
          <table>
            <caption>Failed after their last attempt, or pending after a failed one</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Next attempt</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {props.failing.map((d) => (
                <tr>
                  <td>
                    <code>{d.eventId}</code> {d.eventType}
                    {d.issueId && (
                      <>
                        {" "}
                        · issue <code>{d.issueId}</code>
                      </>
                    )}
                  </td>
                  <td>{d.status}</td>
                  <td>
                    <Attempts attempts={props.attempts.get(d.id) ?? []} />
                  </td>
                  <td>{d.status === "pending" ? when(d.nextAttemptAt) : "—"}</td>
                  <td>
                    <Action viewer={props.viewer} action={`/ui/subscriptions/${sub.id}/deliveries/${d.id}/redeliver`} label="Redeliver" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </Layout>
  );
}

export const subscriptionsUiRouter = new Hono<UiEnv>();

subscriptionsUiRouter.get("/", async (c) => {
  const db = catalogDatabase(c.env);
  const subs = await listSubscriptions(db, { limit: 500 });
  const counts = await deliveryCounts(
    db,
    subs.map((s) => s.id),
  );
  const rows = subs.map((sub) => ({ sub, counts: counts.get(sub.id) ?? { pending: 0, failed: 0 } }));
  return c.html(<SubscriptionsPage viewer={c.var.viewer} rows={rows} notice={c.req.query("notice")} />);
});

subscriptionsUiRouter.get("/:subscriptionId", async (c) => {
  const db = catalogDatabase(c.env);
  const sub = await requireSubscription(c.env, c.req.param("subscriptionId"));
  const [counts, failed, pending] = await Promise.all([
    deliveryCounts(db, [sub.id]),
    listDeliveries(db, sub.id, { status: "failed" }, { limit: 50 }),
    listDeliveries(db, sub.id, { status: "pending" }, { limit: 200 }),
  ]);
  const failing = [...failed, ...pending.filter((d) => d.lastStatus !== null || d.lastError !== null)];
  const attempts = await listAttempts(
    db,
    failing.map((d) => d.id),
  );
  return c.html(
    <SubscriptionPage viewer={c.var.viewer} sub={sub} counts={counts.get(sub.id) ?? { pending: 0, failed: 0 }} failing={failing} attempts={attempts} notice={c.req.query("notice")} />,
  );
});

/** Runs an action, wakes the dispatcher, and goes back to the page with what happened (or why not). */
async function act(c: Context<UiEnv>, back: string, fn: (id: string) => Promise<string>) {
  const id = c.req.param("subscriptionId")!;
  let notice: string;
  try {
    notice = await fn(id);
    await eventDispatcher(c.env, id).wake();
  } catch (err) {
    if (!(err instanceof StateConflict || err instanceof NotFound || err instanceof Unprocessable)) throw err;
    notice = `Not done: ${err.message}`;
  }
  return c.redirect(`${back}?notice=${encodeURIComponent(notice)}`, 303);
}

subscriptionsUiRouter.post("/:subscriptionId/enable", (c) =>
  act(c, `/ui/subscriptions/${c.req.param("subscriptionId")}`, async (id) => {
    await enableSubscription(c.env, id);
    return "Enabled: pending deliveries resume.";
  }),
);

subscriptionsUiRouter.post("/:subscriptionId/test", (c) =>
  act(c, `/ui/subscriptions/${c.req.param("subscriptionId")}`, async (id) => {
    const d = await queuePing(c.env, id);
    return `Test event ${d.eventId} queued.`;
  }),
);

subscriptionsUiRouter.post("/:subscriptionId/replay", (c) =>
  act(c, `/ui/subscriptions/${c.req.param("subscriptionId")}`, async (id) => {
    const form = await c.req.parseBody();
    const after = typeof form.after === "string" ? form.after.trim() : "";
    const r = await replay(c.env, id, { after });
    return `Replay queued: ${r.events} events.`;
  }),
);

subscriptionsUiRouter.post("/:subscriptionId/deliveries/:deliveryId/redeliver", (c) =>
  act(c, `/ui/subscriptions/${c.req.param("subscriptionId")}`, async (id) => {
    const d = await redeliver(c.env, id, c.req.param("deliveryId")!);
    return `Event ${d.eventId} queued again.`;
  }),
);
