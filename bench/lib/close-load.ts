import { connect } from 'node:net';

/** What `ab -n N -c C` reports, for the original's workload. */
export interface CloseLoadResult {
  /** Wall time for all requests. */
  seconds: number;
  /** ab's "Time per request (mean)": seconds × concurrency ÷ requests, in ms. */
  meanMs: number;
  /** ab's "(mean, across all concurrent requests)": seconds ÷ requests, in ms. */
  perRequestMs: number;
  /**
   * Requests not answered whole: a socket error, a status other than 200, or a connection
   * closed before the Content-Length's last byte arrived (what a server that closes too
   * early would cause). Counted, not thrown, so a run says how many.
   */
  errors: number;
}

/** How one request on its own connection ended. */
type Outcome = 'whole' | 'socket error' | 'not 200' | 'cut short';

/**
 * One request on its own connection, closed by the server after the answer: whole only if
 * the status is 200 and every byte its Content-Length announced came before the close.
 */
function once(port: number, host: string, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, host, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    const chunks: Buffer[] = [];
    let failed = false;
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {
      failed = true;
    });
    socket.on('close', () => {
      if (failed) return resolve('socket error');
      const answer = Buffer.concat(chunks);
      const end = answer.indexOf('\r\n\r\n');
      const head = answer.subarray(0, end < 0 ? answer.length : end).toString('latin1');
      if (!/^HTTP\/1\.[01] 200 /.test(head)) return resolve('not 200');
      if (end < 0) return resolve('cut short');
      // Without a Content-Length (HTTP/1.0, say) the body is whatever came before the close.
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      resolve(length === null || answer.length - end - 4 === Number(length[1]) ? 'whole' : 'cut short');
    });
  });
}

/**
 * `result`, or a throw if any request was not answered whole: a server of ours must answer
 * every one, and a time taken over failed requests is not a time for the workload.
 */
export function wholeOrThrow(server: string, result: CloseLoadResult): CloseLoadResult {
  if (result.errors > 0) {
    throw new Error(
      `${server}: ${result.errors} requests of the connection-per-request load were not answered whole`,
    );
  }
  return result;
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
  let errors = 0;
  const begin = performance.now();
  const worker = async () => {
    while (started < total) {
      const path = paths[started++ % paths.length]!;
      if ((await once(Number(port), hostname, path)) !== 'whole') errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - begin) / 1000;
  return {
    seconds,
    meanMs: (seconds * concurrency * 1000) / total,
    perRequestMs: (seconds * 1000) / total,
    errors,
  };
}
