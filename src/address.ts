import { isIPv6 } from 'node:net';

/** `host:port` as a URL authority: an IPv6 address goes in brackets (RFC 3986), `[::1]:8080`. */
export function authority(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** The URL a server listening on `host:port` answers on. */
export function httpUrl(host: string, port: number): string {
  return `http://${authority(host, port)}`;
}
