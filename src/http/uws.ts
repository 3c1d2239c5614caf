import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

// uWS caps a request's headers (URL included) at 4 KiB unless told otherwise; a 1 KiB key
// percent-encoded can take 3 KiB, so allow 16 KiB. Read by the native module when it loads.
process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= '16384';

const require = createRequire(import.meta.url);

/** The loaded uWebSockets.js module. */
export const uws: typeof UWS = require('uWebSockets.js');

/**
 * True when the native uWS binary loaded. The package falls back to a slow `ws`-based
 * imitation, with only a console warning, when the binary does not match this Node's ABI;
 * the imitation lacks `getParts` and `SSLApp`. Start-up says which one runs, so no figure
 * is ever measured on the imitation unknowingly.
 */
export const uwsIsNative = 'getParts' in uws && 'SSLApp' in uws;

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
