// What the browser suite uses of node:http beyond test/fakes/node-http.d.ts (the project type-checks
// against the Workers runtime types, which have no node:http; this code runs on Node 22).
declare module "node:http" {
  interface Server {
    address(): { port: number };
    close(closed?: () => void): this;
    closeAllConnections(): void;
  }
}
