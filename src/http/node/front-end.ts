import { createServer, type Server } from 'node:http';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import { TRAITS, type FrontEnd, type Listening, type ListenOptions } from '../front-end-contract.js';
import { listenErrorOf } from '../listen-error.js';
import { NodeApp } from './app.js';
import { CLIENT_TIMEOUT_MS, Connection } from './connection.js';
import { refuseUnparsed, type ParseError } from './refusals.js';

/** The node:http front end. */
export function nodeFrontEnd(): FrontEnd {
  const app = new NodeApp();
  return { name: 'node', traits: TRAITS.node, app, listen: (options) => listen(app, options) };
}

/**
 * A connection on which nothing moved for {@link CLIENT_TIMEOUT_MS} is closed, unless it
 * waits on the server (a quorum, a join: not the client's doing): closed when a body is
 * still arriving (and the server has not paused it), when an answer's bytes wait for the
 * client to take them, or when no request is waiting for its answer (idle).
 */
function onIdle(socket: Socket): void {
  const connection = Connection.known(socket);
  const request = connection?.lastRequest;
  const sending = request != null && !request.complete && !request.isPaused();
  const waiting = connection !== undefined && connection.unanswered > 0;
  if (sending || socket.writableLength > 0 || !waiting) socket.destroy();
  // Kept: node's timer has fired and re-arms only on socket activity, so arm it again, or a
  // client that stops once the server is done waiting would never be timed out.
  else socket.setTimeout(CLIENT_TIMEOUT_MS);
}

function listen(app: NodeApp, options: ListenOptions): Promise<Listening> {
  const { host, port, maxConnections, log } = options;
  const server: Server = createServer(
    {
      // The JSON answer to a request without Host is the app's.
      requireHostHeader: false,
      // How often the headers timeout is checked; node's default, 30 s, would let it run to 40 s.
      connectionsCheckingInterval: 1000,
    },
    app.request,
  );
  server.keepAliveTimeout = CLIENT_TIMEOUT_MS;
  server.headersTimeout = CLIENT_TIMEOUT_MS;
  // A whole request may take as long as it keeps moving (a large batch): onIdle bounds a stall.
  server.requestTimeout = 0;
  server.timeout = CLIENT_TIMEOUT_MS;
  server.on('timeout', onIdle);
  server.maxConnections = maxConnections;
  server.on('upgrade', app.upgrade);
  server.on('clientError', (error: ParseError, socket: Socket) =>
    refuseUnparsed(error, socket, Connection.known(socket)),
  );
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenErrorOf(host, port, err)));
    server.listen({ host, port, exclusive: true }, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => log(`HTTP server: ${err.message}`));
      resolve({
        port: (server.address() as AddressInfo).port,
        // net's close, not node:http's: that one also closes the kept-alive connections idle
        // right now, and a request a client is sending on one at this moment would be lost.
        // Until closeAll they are answered, 503 SHUTTING_DOWN for new work, as on uWS.
        stopAccepting: () => void NetServer.prototype.close.call(server),
        closeAll() {
          server.close();
          server.closeAllConnections();
          app.closeWebSockets();
        },
      });
    });
  });
}
