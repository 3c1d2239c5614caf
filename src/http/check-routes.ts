import { readFile } from 'node:fs/promises';
import { NotFoundError, toThunderError } from '../errors.js';
import { PAGE_POLICY } from '../pages.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import { readJsonBody } from './json-bodies.js';
import { sendError, sendJson } from './reply.js';
import type { Router } from './router.js';
import type { HttpRequest, HttpResponse } from './seam.js';

/** An id as the server makes them and `thunderdb check --url` reports them: no path tricks. */
const ID = /^[A-Za-z0-9-]{1,80}$/;

/**
 * The checks of design.md §14: `POST /check` starts one against this cluster (the body takes
 * `thunderdb check`'s options), `GET /check` lists the kept ones, `GET /check/{id}` says how
 * one is going (and its verdict once judged), `DELETE /check/{id}` stops it (it still heals
 * its faults and is judged on what ran), `GET /check/{id}/report` serves its report.html.
 * `PUT /check/{id}` is how `thunderdb check --url` reports a check it runs, so the dashboard
 * shows it too. The dashboard hears the current check on `/live`.
 */
export function registerCheckRoutes(app: Router, ctx: RouteContext): void {
  const { checks, inFlight } = ctx;

  /** Reads a check's JSON body (empty: no options) and hands it on. */
  const withJson = (res: HttpResponse, req: HttpRequest, then: (body: unknown, deferred: Deferred) => void) =>
    readJsonBody(
      res,
      req,
      ctx,
      {
        hint: 'a check is described by a JSON object, e.g. {"seed": 7, "faults": "partition"}',
        empty: () => ({}),
      },
      then,
    );
  const idOf = (req: HttpRequest): string => {
    const id = req.getParameter(0) ?? '';
    if (!ID.test(id)) throw new NotFoundError(`no check ${JSON.stringify(id)}`);
    return id;
  };
  /** Runs `answer`, sending a client error it throws as JSON. */
  const guarded = (res: HttpResponse, answer: () => void) => {
    try {
      answer();
    } catch (err) {
      sendError(res, toThunderError(err));
    }
  };

  app.post('/check', (res, req) =>
    withJson(res, req, (body, deferred) => {
      checks.start(body).then(
        (summary) => deferred.json(201, JSON.stringify(summary)),
        (err: unknown) => deferred.error(toThunderError(err)),
      );
    }),
  );
  app.get('/check', (res) => sendJson(res, 200, JSON.stringify({ checks: checks.list() })));
  app.get('/check/:id', (res, req) =>
    guarded(res, () => sendJson(res, 200, JSON.stringify(checks.get(idOf(req))))),
  );
  app.del('/check/:id', (res, req) =>
    guarded(res, () => sendJson(res, 202, JSON.stringify(checks.stop(idOf(req))))),
  );
  app.put('/check/:id', (res, req) => {
    let id: string;
    try {
      id = idOf(req);
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    withJson(res, req, (body, deferred) => deferred.json(200, JSON.stringify(checks.report(id, body))));
  });
  app.get('/check/:id/report', (res, req) => {
    let file: string | null;
    try {
      file = checks.fileOf(idOf(req), 'report.html');
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    if (file === null)
      return sendError(
        res,
        new NotFoundError('the report of a check run by thunderdb check --url is on its machine'),
      );
    const deferred = new Deferred(res, inFlight);
    // The report's own inline scripts draw it; nothing else runs there.
    deferred.header = ['Content-Security-Policy', PAGE_POLICY];
    readFile(file).then(
      (html) => deferred.bytes(html, 'text/html; charset=utf-8'),
      () =>
        deferred.error(
          new NotFoundError('the check has no report yet: it is written once the check is judged'),
        ),
    );
  });
}
