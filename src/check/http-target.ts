import { errorFromWire, type ThunderError } from '../errors.js';
import type { Target } from './target.js';

/**
 * A cluster at a URL, driven over its HTTP API as any client would: reads and writes on
 * `/kv/{key}` with `?r=`/`?w=`/`?repair=`, faults on `/cluster/faults`, crashes and restarts
 * on `/cluster/nodes/{id}/…`. `consistency` absent: the cluster's defaults.
 */
export function httpTarget(
  url: string,
  consistency: { r?: number; w?: number; repair?: string } = {},
): Target {
  const query = (names: ('r' | 'w' | 'repair')[]): string => {
    const params = new URLSearchParams();
    for (const name of names)
      if (consistency[name] !== undefined) params.set(name, String(consistency[name]));
    const text = params.toString();
    return text === '' ? '' : `?${text}`;
  };
  const readQuery = query(['r', 'repair']);
  const writeQuery = query(['w']);
  const call = async (
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; text: string }> => {
    const answer = await fetch(new URL(path, url), { method, body: body ?? null, headers });
    const text = await answer.text();
    if (answer.status >= 400) throw errorOf(answer.status, text);
    return { status: answer.status, text };
  };
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const { text } = await call(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? {} : { 'Content-Type': 'application/json' },
    );
    return (text === '' ? null : JSON.parse(text)) as T;
  };
  const kv = (key: string) => `/kv/${encodeURIComponent(key)}`;
  return {
    async describe() {
      const { nodes, ring } = await json<{
        nodes: { id: number }[];
        ring: { replicas: number; r: number; w: number };
      }>('GET', '/cluster');
      return { nodes: nodes.map((node) => node.id), replicas: ring.replicas, r: ring.r, w: ring.w };
    },
    async read(key) {
      try {
        return (await call('GET', kv(key) + readQuery)).text;
      } catch (err) {
        if ((err as ThunderError).code === 'KEY_NOT_FOUND') return null;
        throw err;
      }
    },
    write: async (key, value) => void (await call('PUT', kv(key) + writeQuery, value)),
    async delete(key) {
      try {
        await call('DELETE', kv(key) + writeQuery);
      } catch (err) {
        // Absent already: the delete still wrote its tombstone.
        if ((err as ThunderError).code !== 'KEY_NOT_FOUND') throw err;
      }
    },
    create: async (key, value) =>
      void (await call('PUT', kv(key) + writeQuery, value, { 'If-None-Match': '*' })),
    deleteIfPresent: async (key) =>
      void (await call('DELETE', kv(key) + writeQuery, undefined, { 'If-Match': '*' })),
    addFault: async (fault) => (await json<{ id: number }>('POST', '/cluster/faults', fault)).id,
    healFault: async (id) => void (await json('DELETE', `/cluster/faults/${id}`)),
    healAll: async () => void (await json('DELETE', '/cluster/faults')),
    crash: async (node) => void (await json('POST', `/cluster/nodes/${node}/crash`)),
    restart: async (node) => void (await json('POST', `/cluster/nodes/${node}/restart`)),
    antiEntropy: async () => void (await json('POST', '/cluster/anti-entropy')),
    versions: async (key) =>
      (await json<{ versions: (number | null)[] }>('GET', `/cluster/locate/${encodeURIComponent(key)}`))
        .versions,
  };
}

/** The catalogue error an error answer carries. */
function errorOf(status: number, text: string): ThunderError {
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string; applied?: boolean } };
    const out = errorFromWire(error);
    if (error.applied !== undefined) out.details.applied = error.applied;
    return out;
  } catch {
    return errorFromWire({
      code: 'INTERNAL',
      message: `the server answered ${status}: ${text.slice(0, 200)}`,
    });
  }
}
