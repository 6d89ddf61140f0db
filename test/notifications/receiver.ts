// A real webhook receiver on a loopback port: records every envelope it is sent, parsed strictly as
// Distribution's event shape, and answers as the test says (accept, fail with 500, or never answer).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { eventActions } from '../../registry/notifications/envelope.ts';

const eventSchema = z.strictObject({
  id: z.uuid(),
  timestamp: z.iso.datetime(),
  action: z.enum(eventActions),
  target: z.strictObject({
    mediaType: z.string().optional(),
    digest: z.string().optional(),
    size: z.int().optional(),
    length: z.int().optional(),
    repository: z.string(),
    fromRepository: z.string().optional(),
    url: z.url().optional(),
    tag: z.string().optional(),
    references: z
      .array(z.looseObject({ mediaType: z.string(), digest: z.string(), size: z.int() }))
      .optional(),
  }),
  request: z.strictObject({
    id: z.string().min(1),
    addr: z.string().min(1),
    host: z.string(),
    method: z.string(),
    useragent: z.string(),
  }),
  actor: z.strictObject({ name: z.string().optional() }),
  source: z.strictObject({ addr: z.string().min(1), instanceID: z.uuid() }),
});
const envelopeSchema = z.strictObject({ events: z.array(eventSchema).min(1) });

export type ReceivedEvent = z.infer<typeof eventSchema>;

export interface Delivery {
  path: string;
  contentType: string | undefined;
  headers: IncomingMessage['headers'];
  events: ReceivedEvent[];
}

export type ReceiverMode = 'accept' | 'fail' | 'hang';

export interface Receiver {
  url: string;
  port: number;
  mode: ReceiverMode;
  deliveries: Delivery[];
  /** Requests that arrived, answered or not. */
  requests: number;
  /** Every event received on `path` (all paths when omitted), in arrival order. */
  events(path?: string): ReceivedEvent[];
  close(): Promise<void>;
}

/** Starts a receiver; on `port` when given (an endpoint that was down comes up). */
export async function startReceiver(options: { mode?: ReceiverMode; port?: number } = {}): Promise<Receiver> {
  const hanging: ServerResponse[] = [];
  const receiver: Receiver = {
    url: '',
    port: 0,
    mode: options.mode ?? 'accept',
    deliveries: [],
    requests: 0,
    events: (path) =>
      receiver.deliveries.filter((d) => path === undefined || d.path === path).flatMap((d) => d.events),
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    receiver.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (receiver.mode === 'hang') {
        hanging.push(res);
        return;
      }
      if (receiver.mode === 'fail') {
        res.writeHead(500).end('down for maintenance');
        return;
      }
      const envelope = envelopeSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      receiver.deliveries.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        headers: req.headers,
        events: envelope.events,
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}
