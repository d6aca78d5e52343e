// Helpers for the HTTP tests: a server on the socket stack and raw kernel clients.
import * as net from "node:net";
import { once } from "node:events";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SocketTcp, DEFAULT_SOCKET_CONFIG } from "../net/socket/index.ts";
import { serve, type Handler, type HttpServer, type ServerOptions } from "./server.ts";

export const run = promisify(execFile);

export async function startServer(handler: Handler, options: ServerOptions = {}): Promise<{ port: number; server: HttpServer; tcp: SocketTcp; stop: () => Promise<void> }> {
  const tcp = new SocketTcp(DEFAULT_SOCKET_CONFIG);
  const server = serve(tcp, 0, handler, options);
  const [endpoint] = await tcp.listening(0);
  return { port: endpoint!.port, server, tcp, stop: () => tcp.disconnect() };
}

/** Sends raw bytes and collects everything until the server closes (or `waitMs` passes). */
export async function rawExchange(port: number, data: string | Uint8Array, options: { waitMs?: number; end?: boolean } = {}): Promise<{ text: string; closed: boolean }> {
  const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  await once(socket, "connect");
  socket.on("error", () => {});
  const parts: Buffer[] = [];
  socket.on("data", (c: Buffer) => parts.push(c));
  socket.write(data);
  if (options.end) socket.end();
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    once(socket, "end").then(() => true),
    once(socket, "close").then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), options.waitMs ?? 5000))),
  ]);
  clearTimeout(timer);
  socket.destroy();
  return { text: Buffer.concat(parts).toString("latin1"), closed };
}

/** Status codes of every response in a raw byte string. */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}
