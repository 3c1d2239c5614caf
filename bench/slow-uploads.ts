// Peak RSS of a cluster while many clients hold a nearly complete /put body (issue 6, item 3).
// Not a benchmark and not in any npm script: run it by hand, one case at a time.
//   node dist/bench/slow-uploads.js [--clients 150] [--budget BYTES]
// It starts `thunderdb cluster --nodes 1` in a child process, opens the uploads, each sending
// all but the last byte of a 16 MiB body, waits 3 s, and prints the child's peak RSS (VmHWM)
// and how the uploads were answered. --budget sets --max-buffered-body-bytes (a very large
// one gives the behaviour before the budget existed).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { clients: { type: 'string', default: '150' }, budget: { type: 'string' } },
});
const clients = Number(values.clients);
const BODY = 16 * 1024 * 1024;
const port = 20_000 + Math.floor(Math.random() * 20_000);
const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const args = [cli, 'cluster', '--nodes', '1', '--port', String(port), '--max-body-bytes', String(BODY)];
if (values.budget) args.push('--max-buffered-body-bytes', values.budget);
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve) => child.stdout.once('data', resolve));

const kib = (field: string) =>
  Number(
    /(\d+) kB/.exec(
      readFileSync(`/proc/${child.pid}/status`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith(field))!,
    )![1],
  );
const before = kib('VmRSS:');
const chunk = Buffer.alloc(1024 * 1024, 'a');
const answers = new Map<string, number>();
const sockets: Socket[] = [];
await Promise.all(
  Array.from(
    { length: clients },
    (_, i) =>
      new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', async () => {
          socket.write(`POST /put HTTP/1.1\r\nHost: x\r\nContent-Length: ${BODY}\r\n\r\n{"k${i}":"`);
          for (let sent = 0; sent < BODY - 16; sent += chunk.length) {
            if (!socket.write(chunk.subarray(0, Math.min(chunk.length, BODY - 16 - sent))))
              await new Promise((r) => socket.once('drain', r));
            if (socket.destroyed) break;
          }
          resolve();
        });
        let head = '';
        socket.on('data', (d: Buffer) => {
          if (head) return;
          head = d.toString('latin1').split('\r\n')[0]!;
          answers.set(head, (answers.get(head) ?? 0) + 1);
        });
        socket.on('error', () => resolve());
        sockets.push(socket);
      }),
  ),
);
await new Promise((r) => setTimeout(r, 3000));
const peak = kib('VmHWM:');
console.log(
  JSON.stringify({
    clients,
    budget: values.budget ?? 'default (256 MiB)',
    rssBeforeMiB: Math.round(before / 1024),
    peakRssMiB: Math.round(peak / 1024),
    answers: Object.fromEntries(answers),
    unanswered: clients - [...answers.values()].reduce((a, b) => a + b, 0),
  }),
);
for (const s of sockets) s.destroy();
child.kill('SIGTERM');
