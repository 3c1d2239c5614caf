/**
 * `thunderdb fault …`: the faults of a running cluster from a terminal, over its HTTP API
 * (`/cluster/faults`), as `thunderdb load` loads one. The server checks every fault; its
 * error, code and message, is what the command prints.
 */

/** What `thunderdb fault add` takes besides the type (absent: not sent). */
export interface FaultOptions {
  nodes?: string;
  ms?: number;
  jitterMs?: number;
  distribution?: string;
  probability?: number;
  direction?: string;
}

async function call(url: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const answer = await fetch(new URL(path, url), {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });
  const text = await answer.text();
  const json: unknown = text === '' ? null : JSON.parse(text);
  if (!answer.ok) {
    const error = (json as { error?: { code: string; message: string } } | null)?.error;
    throw new Error(error ? `${error.code}: ${error.message}` : `the server answered ${answer.status}`);
  }
  return json;
}

/** The faults in force. */
export function listFaults(url: string): Promise<unknown> {
  return call(url, 'GET', '/cluster/faults');
}

/** Adds a fault of `type`; resolves with it as the server holds it (with its id). */
export function addFault(url: string, type: string, options: FaultOptions): Promise<unknown> {
  const spec: Record<string, unknown> = { type };
  if (options.nodes !== undefined) spec.nodes = options.nodes.split(',').map((n) => Number(n.trim()));
  if (options.ms !== undefined) spec.ms = options.ms;
  if (options.jitterMs !== undefined) spec.jitterMs = options.jitterMs;
  if (options.distribution !== undefined) spec.distribution = options.distribution;
  if (options.probability !== undefined) spec.probability = options.probability;
  if (options.direction !== undefined) spec.direction = options.direction;
  return call(url, 'POST', '/cluster/faults', spec);
}

/** Heals fault `id`, or every fault. */
export function healFaults(url: string, id?: number): Promise<unknown> {
  return call(url, 'DELETE', id === undefined ? '/cluster/faults' : `/cluster/faults/${id}`);
}
