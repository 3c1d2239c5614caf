import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type * as UWS from 'uWebSockets.js';
import { authority } from '../address.js';

// uWS caps a request's headers (URL included) at 4 KiB unless told otherwise; a 1 KiB key
// percent-encoded can take 3 KiB, so allow 16 KiB. Read by the native module when it loads.
process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= '16384';

const require = createRequire(import.meta.url);

/** Node's module ABI versions (`process.versions.modules`) for the majors a uWS build may name. */
const NODE_OF_ABI: Record<string, string> = {
  '93': '16',
  '108': '18',
  '115': '20',
  '127': '22',
  '137': '24',
  '141': '25',
};

/**
 * Loads the package's native binary for this Node and platform, by path.
 *
 * The package's own entry point, when its binary does not fit this Node (the v20.30 build
 * has binaries for Node 20's ABI only, so Node 22 and 24 miss), prints a warning and falls
 * back to a JavaScript imitation built on `ws`, which serves reads and crashes the process
 * on the first PUT. Loading the binary directly never reaches that imitation, and its
 * failure says exactly what is missing, so start-up can refuse with a useful message.
 */
function loadNative(): typeof UWS {
  const dir = join(dirname(require.resolve('uWebSockets.js/package.json')), 'binaries');
  const here = `${process.platform}_${process.arch}_${process.versions.modules}`;
  try {
    const native = require(join(dir, `uws_${here}.node`)) as typeof UWS;
    // The native module exports these; the imitation has neither.
    if ('getParts' in native && 'SSLApp' in native) return native;
    throw new Error('the module loaded is not the native build');
  } catch (err) {
    throw new Error(refusal(dir, err instanceof Error ? err.message : String(err)), { cause: err });
  }
}

/** Why ThunderDB does not start here, and where it does: built from the binaries shipped. */
function refusal(dir: string, reason: string): string {
  const { version: uwsVersion, name } = require('uWebSockets.js/package.json') as {
    version: string;
    name: string;
  };
  const byNode = new Map<string, string[]>();
  for (const file of readdirSync(dir)) {
    const match = /^uws_(\w+?)_(\w+)_(\d+)\.node$/.exec(file);
    if (!match) continue;
    const node = NODE_OF_ABI[match[3]!] ?? `ABI ${match[3]}`;
    byNode.set(node, [...(byNode.get(node) ?? []), `${match[1]}-${match[2]}`]);
  }
  // The project runs on Node 20 (package.json engines); older majors are left out.
  const platforms = byNode.get('20') ?? [];
  const abi = process.versions.modules;
  const cause = reason.split('\n').find((line) => line.trim() !== '') ?? reason;
  return (
    `ThunderDB needs the native uWebSockets.js binary, and none loads here. The installed build ` +
    `(${name} ${uwsVersion}) has one for Node 20 on ${platforms.join(', ')}; this is Node ` +
    `${process.version} (ABI ${abi}${NODE_OF_ABI[abi] ? '' : ', unknown to this build'}) on ` +
    `${process.platform}-${process.arch}. Without it the package falls back to a JavaScript ` +
    `imitation that crashes on the first write, so ThunderDB refuses to start: run it with ` +
    `Node 20 (README, "Requirements"). The loader said: ${cause}`
  );
}

/** The loaded native uWebSockets.js module; importing this module throws where there is none. */
export const uws: typeof UWS = loadNative();

/**
 * `app.listen(host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, cb)`: the overload with options that
 * uWS's type declarations leave out. Without the option uWS binds with SO_REUSEPORT, so a
 * second server on a taken port "succeeds" and the kernel splits connections between them.
 */
export function listenExclusive(
  app: UWS.TemplatedApp,
  host: string,
  port: number,
  cb: (socket: UWS.us_listen_socket | false) => void,
): void {
  const listen = app.listen as unknown as (
    host: string,
    port: number,
    options: number,
    cb: (socket: UWS.us_listen_socket | false) => void,
  ) => void;
  // The native module exports the flag's value; the declarations only as an enum member.
  const { LIBUS_LISTEN_EXCLUSIVE_PORT } = uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number };
  listen.call(app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, cb);
}

/**
 * Why `host:port` cannot be listened on, as an Error to show the user. uWS only says "no";
 * a probe with Node's own listener gets the system's reason (EADDRINUSE, EADDRNOTAVAIL…).
 */
export function listenError(host: string, port: number): Promise<Error> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      const where = authority(host, port);
      const why: Record<string, string> = {
        EADDRINUSE: `port ${port} is already in use on ${host} (another ThunderDB, or another program); stop it or pick another --port`,
        EADDRNOTAVAIL: `${host} is not an address of this machine`,
        EACCES: `port ${port} needs more privileges than this process has`,
        ENOTFOUND: `${host} is not a known host name`,
      };
      resolve(new Error(`cannot listen on ${where}: ${why[err.code ?? ''] ?? err.message}`));
    });
    probe.listen({ host, port, exclusive: true }, () => {
      probe.close();
      resolve(
        new Error(
          `cannot listen on ${authority(host, port)} (uWS refused; the address and port look free now)`,
        ),
      );
    });
  });
}

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
