// A loopback HTTP proxy in front of MinIO that records every request and can answer some of them with an S3
// error instead (throttling, 5xx), to test retries and to see which requests clients send straight to the
// backend (presigned redirects). Headers pass through unchanged, so SigV4 signatures made for the proxy's
// address stay valid at MinIO.
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
  /** performance.now() when the request arrived. */
  at: number;
  /** The status sent back (injected or MinIO's). */
  status?: number;
  injected: boolean;
}

export interface InjectedError {
  status: number;
  code: string;
  message?: string;
}

export interface S3Proxy {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  requests: ProxiedRequest[];
  /** Decides per request whether to answer with an error instead of forwarding it. */
  inject: ((req: IncomingMessage, index: number) => InjectedError | undefined) | undefined;
  stop(): Promise<void>;
}

export async function startS3Proxy(target: string): Promise<S3Proxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const proxy: S3Proxy = {
    endpoint: '',
    requests,
    inject: undefined,
    stop: async () => undefined,
  };
  const server = createServer((req, res) => {
    const record: ProxiedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      at: performance.now(),
      injected: false,
    };
    const index = requests.push(record) - 1;
    const injected = proxy.inject?.(req, index);
    if (injected) {
      record.injected = true;
      record.status = injected.status;
      req.resume();
      req.on('end', () => {
        const body =
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${injected.code}</Code>` +
          `<Message>${injected.message ?? 'injected by the test proxy'}</Message></Error>`;
        res.writeHead(injected.status, { 'Content-Type': 'application/xml', 'Content-Length': body.length });
        res.end(body);
      });
      return;
    }
    const headers = { ...req.headers };
    // Node answers 100-continue itself; the upstream request streams the body straight away.
    delete headers['expect'];
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
      },
      (upstreamRes) => {
        record.status = upstreamRes.statusCode;
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    out.on('error', (err) => {
      record.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  proxy.endpoint = `http://127.0.0.1:${port}`;
  proxy.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
