import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { RawClient } from './raw-http.js';

const SERVE = fileURLToPath(new URL('./fixtures/serve.js', import.meta.url));
const PING = 'GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n';

/** Tries to open a connection and get a /ping answered on it; says what happened. */
async function attempt(port: number): Promise<{ client: RawClient | null; outcome: 'served' | 'refused' }> {
  let client: RawClient;
  try {
    client = await RawClient.open(port);
  } catch {
    return { client: null, outcome: 'refused' };
  }
  client.write(PING);
  await client.until(() => client.closed || client.data.includes('"status":"OK"'), 3000).catch(() => {});
  return { client, outcome: client.data.includes('"status":"OK"') ? 'served' : 'refused' };
}

test(
  'past --max-connections new connections are refused at once, open ones keep working, and room reopens the door',
  { timeout: 30_000 },
  async (t) => {
    const child = spawn(process.execPath, [SERVE, JSON.stringify({ maxConnections: 20 })], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
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
    await new Promise((r) => setTimeout(r, 300)); // the gate counts every 100 ms

    const started = performance.now();
    const extra = await attempt(port);
    extra.client?.destroy();
    assert.equal(extra.outcome, 'refused');
    assert.ok(performance.now() - started < 1000, 'refused promptly, not after a timeout');

    // The connections already open are served as before.
    for (const client of open.slice(0, 5)) {
      client.data = Buffer.alloc(0);
      client.write(PING);
      await client.until(() => client.data.includes('"status":"OK"'), 3000);
    }

    // Closing some makes room again.
    for (const client of open.splice(0, 10)) client.destroy();
    await new Promise((r) => setTimeout(r, 500));
    const again = await attempt(port);
    again.client?.destroy();
    assert.equal(again.outcome, 'served');
  },
);
