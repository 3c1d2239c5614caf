import { NodeUnavailableError, ThunderError, toThunderError } from '../errors.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import { sendError, sendJson } from './reply.js';
import { keyFromPath } from './request-key.js';
import type { Router } from './router.js';

const LOCATE_PREFIX = '/cluster/locate/'.length;

/** Registers `GET /cluster`, `GET /cluster/locate/{key}` and `GET /health`. */
export function registerClusterRoutes(app: Router, ctx: RouteContext): void {
  const { cluster, limits, inFlight } = ctx;
  const ring = { hash: 'murmur3-x86-32', seed: 0, partitions: cluster.ring.partitions };

  app.get('/cluster', (res) => {
    const deferred = new Deferred(res, inFlight);
    cluster.nodes().then(
      (nodes) =>
        deferred.json(
          200,
          JSON.stringify({
            nodes,
            ring,
            replication: cluster.replication,
            coordinator: cluster.coordinatorStats(),
            limits,
          }),
        ),
      (err: unknown) => deferred.error(toThunderError(err)),
    );
  });

  app.get('/cluster/locate/*', (res, req) => {
    const key = keyFromPath(req.getUrl(), LOCATE_PREFIX, limits);
    if (key instanceof ThunderError) return sendError(res, key);
    const where = cluster.ring.locate(key);
    const states = where.replicas.map((id) => cluster.stateOf(id));
    sendJson(res, 200, JSON.stringify({ key, ...where, states }));
  });

  app.get('/health', (res) => {
    const deferred = new Deferred(res, inFlight);
    cluster.nodes().then(
      (nodes) => {
        const states = nodes.map(({ id, state, error }) => (error ? { id, state, error } : { id, state }));
        // A node that is up but did not answer (a timeout) is not healthy either.
        const down = states.filter((n) => n.state !== 'up' || 'error' in n);
        if (down.length === 0) return deferred.json(200, JSON.stringify({ status: 'ok', nodes: states }));
        const error = new NodeUnavailableError(`node ${down.map((n) => n.id).join(', ')} not answering`);
        error.details.nodes = states;
        deferred.error(error);
      },
      (err: unknown) => deferred.error(toThunderError(err)),
    );
  });
}
