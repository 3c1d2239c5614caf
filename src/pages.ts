import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The folder of the browser's pages and scripts, in the source tree (no build step). */
const DASHBOARD = new URL('../../dashboard/', import.meta.url);

/** `<script data-include="name.js"></script>`: a shared script put inline where it stands. */
const INCLUDE = /<script data-include="([a-z0-9-]+\.js)"><\/script>/g;

/** A script of dashboard/ as text. */
export function readScript(name: string): string {
  return readFileSync(fileURLToPath(new URL(name, DASHBOARD)), 'utf8');
}

/**
 * A page of dashboard/ with every shared script it includes put inline: each page stays one
 * self-contained document (its Content-Security-Policy allows inline scripts only), while
 * the drawing code the dashboard, the replay and report.html share is written once.
 */
export function readPage(name: string): string {
  const html = readFileSync(fileURLToPath(new URL(name, DASHBOARD)), 'utf8');
  // A function replacement: `$` in a script is not a replacement pattern.
  return html.replace(INCLUDE, (_, script: string) => `<script>\n${readScript(script)}</script>`);
}

/**
 * The Content-Security-Policy of every page the server serves: its own inline scripts and
 * styles, requests to its own origin, nothing else (no page of another site may frame it).
 */
export const PAGE_POLICY =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
