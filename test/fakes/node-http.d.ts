// The slice of node:http that serve.ts uses. The project type-checks against the Workers runtime
// types, which have no node:http; serve.ts itself runs on Node 22, never inside workerd.
declare module "node:http" {
  interface IncomingMessage extends AsyncIterable<Uint8Array> {
    url?: string;
    method?: string;
    headers: Record<string, string | string[] | undefined>;
    socket: { destroy(): void };
  }
  interface ServerResponse {
    writeHead(status: number, headers?: Record<string, string>): this;
    end(body?: string | Uint8Array): void;
  }
  interface Server {
    listen(port: number, host: string, listening?: () => void): this;
  }
  function createServer(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Server;
}
