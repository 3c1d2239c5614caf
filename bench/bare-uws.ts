/**
 * The ceiling: a uWebSockets.js app that answers every request with a constant, doing no
 * work. Whatever ThunderDB reaches is quoted as a share of what this reaches in the same run.
 */
import { uws } from '../src/http/uws.js';

const app = uws.App();
app.any('/*', (res) => {
  res.end('e8c12114-674b-4f75-a753-c2e1c33ad4bd');
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) throw new Error('bare uWS could not listen');
  console.log(`bare uWS on http://127.0.0.1:${uws.us_socket_local_port(socket)}`);
});
process.on('SIGTERM', () => process.exit(0));
