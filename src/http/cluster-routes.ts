import {
  BadRequestError,
  NodeUnavailableError,
  NotFoundError,
  ThunderError,
  toThunderError,
} from '../errors.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import { readJsonBody } from './json-bodies.js';
import { integer, parseQuery } from './params.js';
import { sendError, sendJson } from './reply.js';
import { keyFromPath } from './request-key.js';
import type { Router } from './router.js';
import type { HttpRequest, HttpResponse } from './seam.js';

const LOCATE_PREFIX = '/cluster/locate/'.length;

/** Registers `GET /cluster`, `GET /cluster/locate/{key}` and `GET /health`. */
export function registerClusterRoutes(app: Router, ctx: RouteContext): void {
  const { cluster, limits, inFlight } = ctx;
  // The ring's settings, the replica count and default quorums among them (design.md §6);
  // the tombstone grace period beside them.
  const { replicas, r, w, tombstoneGraceMs } = cluster.replication;
  const ring = { hash: 'murmur3-x86-32', seed: 0, partitions: cluster.ring.partitions, replicas, r, w };

  app.get('/cluster', (res) => {
    const deferred = new Deferred(res, inFlight);
    cluster.nodes().then(
      (nodes) =>
        deferred.json(
          200,
          JSON.stringify({
            nodes,
            ring,
            coordinator: { tombstoneGraceMs, ...cluster.coordinatorStats() },
            seed: cluster.seed,
            faults: cluster.faults(),
            limits,
          }),
        ),
      (err: unknown) => deferred.error(toThunderError(err)),
    );
  });

  app.get('/cluster/locate/*', (res, req) => {
    const key = keyFromPath(req.getUrl(), LOCATE_PREFIX, limits);
    if (key instanceof ThunderError) return sendError(res, key);
    const deferred = new Deferred(res, inFlight);
    cluster.locate(key).then(
      (where) => deferred.json(200, JSON.stringify({ key, ...where })),
      (err: unknown) => deferred.error(toThunderError(err)),
    );
  });

  /** The node an `/cluster/nodes/{id}…` path names, or the error that refuses it. */
  const nodeOf = (req: HttpRequest): number | ThunderError => {
    const text = req.getParameter(0) ?? '';
    const id = /^(0|[1-9][0-9]{0,4})$/.test(text) ? Number(text) : NaN;
    if (!cluster.ring.members.includes(id)) {
      return new NotFoundError(
        `no node ${JSON.stringify(text)} in the ring; its nodes are ${cluster.ring.members.join(', ')}`,
      );
    }
    return id;
  };

  /** Answers a membership change once it is done. */
  const change = (res: HttpResponse, run: () => Promise<unknown>): void => {
    const deferred = new Deferred(res, inFlight);
    let running: Promise<unknown>;
    try {
      running = run();
    } catch (err) {
      return deferred.error(toThunderError(err));
    }
    running.then(
      (answer) => deferred.json(200, JSON.stringify(answer)),
      (err: unknown) => deferred.error(toThunderError(err)),
    );
  };

  app.post('/cluster/nodes', (res) => change(res, () => cluster.addNode()));

  app.del('/cluster/nodes/:id', (res, req) => {
    const node = nodeOf(req);
    if (node instanceof ThunderError) return sendError(res, node);
    change(res, () => cluster.removeNode(node));
  });

  const PLAN_PARAMS = { add: integer({ min: 1, max: 1 }), remove: integer({ min: 0, max: 65535 }) };
  app.get('/cluster/plan', Object.keys(PLAN_PARAMS), (res, req) => {
    let plan: { add: number } | { remove: number };
    try {
      const { add, remove } = parseQuery(req.getQuery(), PLAN_PARAMS);
      if ((add === undefined) === (remove === undefined)) {
        throw new BadRequestError('give add=1 or remove=ID, one of them');
      }
      plan = add !== undefined ? { add } : { remove: remove! };
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    const deferred = new Deferred(res, inFlight);
    cluster.plan(plan).then(
      (moved) => deferred.json(200, JSON.stringify({ ...plan, moved })),
      (err: unknown) => deferred.error(toThunderError(err)),
    );
  });

  app.post('/cluster/nodes/:id/crash', (res, req) => {
    const node = nodeOf(req);
    if (node instanceof ThunderError) return sendError(res, node, true);
    const deferred = new Deferred(res, inFlight);
    const was = cluster.stateOf(node);
    cluster.crash(node).then(
      () => deferred.json(200, JSON.stringify({ id: node, was, state: cluster.stateOf(node) })),
      (err: unknown) => deferred.error(toThunderError(err)),
    );
  });

  app.post('/cluster/nodes/:id/restart', (res, req) => {
    const node = nodeOf(req);
    if (node instanceof ThunderError) return sendError(res, node, true);
    const deferred = new Deferred(res, inFlight);
    cluster.restart(node).then(
      (refilled) => deferred.json(200, JSON.stringify({ id: node, state: cluster.stateOf(node), refilled })),
      // A refusal comes before the body, if any, was read: close behind it.
      (err: unknown) => deferred.error(toThunderError(err), true),
    );
  });

  app.post('/cluster/anti-entropy', (res) => {
    const deferred = new Deferred(res, inFlight);
    cluster.antiEntropy().then(
      (partitions) =>
        deferred.json(
          200,
          JSON.stringify({
            partitionsRepaired: partitions,
            antiEntropy: cluster.coordinatorStats().antiEntropy,
          }),
        ),
      (err: unknown) => deferred.error(toThunderError(err)),
    );
  });

  app.get('/cluster/faults', (res) => sendJson(res, 200, JSON.stringify({ faults: cluster.faults() })));

  app.post('/cluster/faults', (res, req) =>
    readJsonBody(
      res,
      req,
      ctx,
      { hint: 'a fault is a JSON object, e.g. {"type": "partition", "nodes": [1]}' },
      (spec, deferred) => deferred.json(201, JSON.stringify(cluster.addFault(spec))),
    ),
  );

  app.del('/cluster/faults', (res) => {
    const healed = cluster.faults().filter((fault) => fault.type !== 'pause').length;
    cluster.healAll();
    sendJson(res, 200, JSON.stringify({ healed }));
  });

  app.del('/cluster/faults/:id', (res, req) => {
    const text = req.getParameter(0) ?? '';
    const id = /^[1-9][0-9]{0,8}$/.test(text) ? Number(text) : NaN;
    if (!cluster.healFault(id)) {
      return sendError(res, new NotFoundError(`no network fault ${JSON.stringify(text)} in force`));
    }
    sendJson(res, 200, JSON.stringify({ healed: 1 }));
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
