import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as UWS from 'uWebSockets.js';

const require = createRequire(import.meta.url);

/** The native uWebSockets.js module. */
export type Uws = typeof UWS;

/** Node's module ABI versions (`process.versions.modules`) for the majors a uWS build may name. */
const NODE_OF_ABI: Record<string, string> = {
  '93': '16',
  '108': '18',
  '115': '20',
  '127': '22',
  '137': '24',
  '141': '25',
};

let loaded: Uws | string | null = null;

/**
 * The native uWebSockets.js module for this Node and platform, or why none loads here (one
 * sentence, for the start-up line). Loaded once, by path.
 *
 * The package's own entry point, when its binary does not fit this Node (the v20.30 build
 * has binaries for Node 20's ABI and older only, so Node 22 and 24 miss), prints a warning
 * and falls back to a JavaScript imitation built on `ws`, which serves reads and crashes the
 * process on the first PUT. Loading the binary directly never reaches that imitation, and
 * its failure says exactly what is missing.
 */
export function loadUws(): Uws | string {
  if (loaded !== null) return loaded;
  // uWS caps a request's headers (URL included) at 4 KiB unless told otherwise; a 1 KiB key
  // percent-encoded can take 3 KiB, so allow 16 KiB (node:http's default too). Read by the
  // native module when it loads.
  process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= '16384';
  const dir = join(dirname(require.resolve('uWebSockets.js/package.json')), 'binaries');
  const here = `${process.platform}_${process.arch}_${process.versions.modules}`;
  try {
    const native = require(join(dir, `uws_${here}.node`)) as Uws;
    // The native module exports these; the imitation has neither.
    if (!('getParts' in native && 'SSLApp' in native))
      throw new Error('the module loaded is not the native build');
    loaded = native;
  } catch (err) {
    loaded = missing(dir, err instanceof Error ? err.message : String(err));
  }
  return loaded;
}

/** Why uWS does not load here, and where it does: built from the binaries shipped. */
function missing(dir: string, reason: string): string {
  const { version } = require('uWebSockets.js/package.json') as { version: string };
  const byNode = new Map<string, string[]>();
  for (const file of readdirSync(dir)) {
    const match = /^uws_(\w+?)_(\w+)_(\d+)\.node$/.exec(file);
    if (!match) continue;
    const node = NODE_OF_ABI[match[3]!] ?? `ABI ${match[3]}`;
    byNode.set(node, [...(byNode.get(node) ?? []), `${match[1]}-${match[2]}`]);
  }
  const abi = process.versions.modules;
  const here = `Node ${process.version} (ABI ${abi}${NODE_OF_ABI[abi] ? '' : ', unknown to this build'}) on ${process.platform}-${process.arch}`;
  // A binary that is there and fails to load (a system library too old) says why; a missing one needs no quote.
  const cause = reason.split('\n').find((line) => line.trim() !== '') ?? reason;
  const quoted = /Cannot find module/.test(cause) ? '' : ` (the loader said: ${cause})`;
  return (
    `uWebSockets.js ${version} has no native binary for ${here}, only for Node 20 on ` +
    `${(byNode.get('20') ?? []).join(', ')}${quoted}`
  );
}

/**
 * `app.listen(host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, cb)`: the overload with options that
 * uWS's type declarations leave out. Without the option uWS binds with SO_REUSEPORT, so a
 * second server on a taken port "succeeds" and the kernel splits connections between them.
 */
export function listenExclusive(
  uws: Uws,
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
