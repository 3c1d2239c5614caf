import { createServer } from 'node:net';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { authority } from '../../address.js';
import { ConnectionGate } from '../connection-gate.js';
import { TRAITS, type FrontEnd, type Listening, type ListenOptions } from '../front-end-contract.js';
import { listenErrorOf } from '../listen-error.js';
import type { App } from '../seam.js';
import { listenExclusive, loadUws, type Uws } from './native.js';

/** The uWebSockets.js front end: uWS's own app, routes registered on it as they are (no wrapper). */
export function uwsFrontEnd(): FrontEnd {
  const uws = loadUws();
  if (typeof uws === 'string') throw new RangeError(uws);
  const app = uws.App();
  return {
    name: 'uws',
    traits: TRAITS.uws,
    // uWS's own types, checked against the seam here: its objects are the seam's.
    app: app satisfies App,
    listen: (options) => listen(uws, app, options),
  };
}

/**
 * Why `host:port` cannot be listened on. uWS only says "no"; a probe with Node's own
 * listener gets the system's reason (EADDRINUSE, EADDRNOTAVAIL…).
 */
function listenError(host: string, port: number): Promise<Error> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(listenErrorOf(host, port, err)));
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

function listen(uws: Uws, app: TemplatedApp, options: ListenOptions): Promise<Listening> {
  const { host, port, maxConnections, log } = options;
  return new Promise((resolve, reject) => {
    // Exclusive: a taken port must fail here, not be shared with the other server.
    listenExclusive(uws, app, host, port, (socket: us_listen_socket | false) => {
      if (!socket) return void listenError(host, port).then(reject);
      let closed = false;
      const realPort = uws.us_socket_local_port(socket);
      let listening: us_listen_socket | null = socket;
      const stopAccepting = () => {
        if (listening) uws.us_listen_socket_close(listening);
        listening = null;
      };
      // Must listen as the call above does (exclusive), on the port it got.
      const startAccepting = () =>
        new Promise<boolean>((done) => {
          if (closed) return done(false);
          listenExclusive(uws, app, host, realPort, (again: us_listen_socket | false) => {
            if (again && closed) uws.us_listen_socket_close(again);
            else if (again) listening = again;
            done(again !== false && !closed);
          });
        });
      // uSockets sets SO_REUSEADDR only when listening on a given port, and without it the
      // port cannot be listened on again while connections accepted from it are open,
      // which the connection gate needs. So a port picked by the kernel is taken again at once.
      const ready = port === 0 ? (stopAccepting(), startAccepting()) : Promise.resolve(true);
      void ready.then((ok) => {
        if (!ok) return reject(new Error(`cannot listen on ${host}:${realPort} again`));
        const gate = new ConnectionGate({ max: maxConnections, log, stopAccepting, startAccepting });
        resolve({
          port: realPort,
          stopAccepting() {
            closed = true;
            gate.stop();
            stopAccepting();
          },
          // uWS's connections end with their clients; answers in flight are the server's to wait for.
          closeAll() {},
        });
      });
    });
  });
}
