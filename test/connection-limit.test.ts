import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TRAITS } from '../src/http/front-ends.js';
import { FRONT_ENDS, TIMEOUT } from './helpers.js';
import { RawClient } from './raw-http.js';

const SERVE = fileURLToPath(new URL('./fixtures/serve.js', import.meta.url));
const PING = 'GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n';

/**
 * Opens a connection and has a /ping answered on it. `refused`: the kernel refused the
 * connection (ECONNREFUSED), which it does at once; `closed`: accepted, then closed unanswered.
 */
async function attempt(
  port: number,
): Promise<{ client: RawClient | null; outcome: 'served' | 'refused' | 'closed' }> {
  let client: RawClient;
  try {
    client = await RawClient.open(port);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'ECONNREFUSED', String(err));
    return { client: null, outcome: 'refused' };
  }
  client.write(PING);
  await client.until(() => client.data.includes('"status":"OK"'));
  return { client, outcome: client.data.includes('"status":"OK"') ? 'served' : 'closed' };
}

/** Attempts until one ends as `wanted`; each other one is closed again (uWS's gate counts every 100 ms). */
async function attemptUntil(
  port: number,
  wanted: 'served' | 'refused' | 'closed',
): Promise<RawClient | null> {
  for (;;) {
    const { client, outcome } = await attempt(port);
    if (outcome === wanted) return client;
    client?.destroy();
    await sleep(20);
  }
}

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    test(
      'past --max-connections new connections are refused at once, open ones keep working, and room reopens the door',
      TIMEOUT,
      async (t) => {
        const child = spawn(
          process.execPath,
          [SERVE, JSON.stringify({ maxConnections: 20, http: frontEnd })],
          {
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        t.after(() => child.kill());
        const [line] = (await once(child.stdout!, 'data')) as [Buffer];
        const port = Number(line.toString().trim());

        const open: RawClient[] = [];
        t.after(() => open.forEach((c) => c.destroy()));
        for (let i = 0; i < 20; i++) {
          const { client, outcome } = await attempt(port);
          assert.equal(outcome, 'served', `connection ${i + 1} of 20`);
          open.push(client!);
        }
        // uWS's gate closes the door at its next count: from then on the kernel refuses (not a
        // connection accepted and left unanswered, which `attempt` would report as 'closed').
        // node:http accepts the connection and closes it at once, unanswered.
        const over = TRAITS[frontEnd].overConnectionLimit;
        await attemptUntil(port, over);
        assert.equal((await attempt(port)).outcome, over, 'the door stays closed');

        // The connections already open are served as before.
        for (const client of open.slice(0, 5)) {
          client.data = Buffer.alloc(0);
          client.write(PING);
          await client.until(() => client.data.includes('"status":"OK"'));
          assert.ok(!client.closed, 'still open');
        }

        // Closing some makes room again: the door reopens at the gate's next count.
        for (const client of open.splice(0, 10)) client.destroy();
        const again = await attemptUntil(port, 'served');
        again?.destroy();
      },
    );
  });
