// The reference for the webhook benchmark: @octokit/webhooks' own Node middleware verifying GitHub
// deliveries on a plain node:http server, in its own process (so it does not share an event loop
// with the load generator). Usage: node bench/octokit-server.mjs <port> <secret>
import { createServer } from "node:http";
import { createNodeMiddleware, Webhooks } from "@octokit/webhooks";

const [port, secret] = process.argv.slice(2);
const webhooks = new Webhooks({ secret });
// A handler so the middleware does the whole job: verify, parse, dispatch.
webhooks.onAny(() => {});
const middleware = createNodeMiddleware(webhooks, { path: "/webhook", log: { debug() {}, info() {}, warn() {}, error: console.error } });
createServer(middleware).listen(Number(port), "127.0.0.1", () => console.log(`octokit webhooks on 127.0.0.1:${port}`));
