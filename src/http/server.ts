import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import type { Metrics } from './metrics.js';

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: Record<string, { ok: boolean; detail?: string }>;
  [key: string]: unknown;
}

/** Why a report is not ok, one line per failing check: `<check>: <detail>`. */
export function healthReasons(h: HealthReport): string[] {
  return Object.entries(h.checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name}: ${c.detail ?? 'failing'}`);
}

/** `GET /healthz` (200 when healthy, 503 otherwise) and `GET /metrics` (Prometheus text). */
export class OpsServer {
  private server: http.Server | null = null;

  constructor(
    private readonly health: () => HealthReport,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const addr = server.address() as AddressInfo;
    this.log.info(
      { event: 'http.listening', host: addr.address, port: addr.port },
      `health and metrics on http://${addr.address}:${addr.port}`,
    );
    return addr;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      } else if (url === '/healthz') {
        const h = this.health();
        res.writeHead(h.status === 'ok' ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(h.status === 'ok' ? h : { ...h, reasons: healthReasons(h) }));
      } else if (url === '/metrics') {
        const body = await this.metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
        res.end(body);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
      }
    } catch (err) {
      this.log.error({ event: 'http.error', url, err }, 'health/metrics request failed');
      // In words, never a bare 500: what failed, for the operator reading the probe's output.
      if (res.headersSent) res.end();
      else
        res
          .writeHead(500, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ status: 'error', error: (err as Error).message ?? String(err) }));
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
