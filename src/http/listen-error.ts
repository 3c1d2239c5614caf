import { authority } from '../address.js';

/**
 * The Error to show when `host:port` cannot be listened on, from the system's error code
 * (EADDRINUSE, EADDRNOTAVAIL…): one sentence that says what to do.
 */
export function listenErrorOf(host: string, port: number, err: NodeJS.ErrnoException): Error {
  const why: Record<string, string> = {
    EADDRINUSE: `port ${port} is already in use on ${host} (another ThunderDB, or another program); stop it or pick another --port`,
    EADDRNOTAVAIL: `${host} is not an address of this machine`,
    EACCES: `port ${port} needs more privileges than this process has`,
    ENOTFOUND: `${host} is not a known host name`,
  };
  return new Error(`cannot listen on ${authority(host, port)}: ${why[err.code ?? ''] ?? err.message}`);
}
