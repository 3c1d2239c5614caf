import { connect } from 'node:net';

/** What `ab -n N -c C` reports, for the original's workload. */
export interface CloseLoadResult {
  /** Wall time for all requests. */
  seconds: number;
  /** ab's "Time per request (mean)": seconds × concurrency ÷ requests, in ms. */
  meanMs: number;
  /** ab's "(mean, across all concurrent requests)": seconds ÷ requests, in ms. */
  perRequestMs: number;
}

/** One request on its own connection, closed by the server after the answer. */
function once(port: number, host: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    let head = '';
    socket.on('data', (d: Buffer) => {
      if (head.length < 12) head += d.toString('latin1', 0, 12);
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (head.startsWith('HTTP/1.1 200')) resolve();
      else reject(new Error(`GET ${path} answered ${JSON.stringify(head.slice(0, 12))}`));
    });
  });
}

/**
 * The original's benchmark, `ab -n total -c concurrency`: every request on a new connection.
 * `ab` itself speaks HTTP/1.0, which uWebSockets.js does not answer, so this drives the same
 * workload over HTTP/1.1 with `Connection: close`, on either front end (`ab` itself, against
 * node:http: bench/lib/ab.ts).
 */
export async function connectionPerRequest(
  url: string,
  paths: string[],
  total = 10_000,
  concurrency = 100,
): Promise<CloseLoadResult> {
  const { hostname, port } = new URL(url);
  let started = 0;
  const begin = performance.now();
  const worker = async () => {
    while (started < total) {
      const path = paths[started++ % paths.length]!;
      await once(Number(port), hostname, path);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - begin) / 1000;
  return { seconds, meanMs: (seconds * concurrency * 1000) / total, perRequestMs: (seconds * 1000) / total };
}
