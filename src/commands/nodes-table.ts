import type { ClusterStatus, Moved, NodeStatus } from '../client/index.js';

/** Bytes in B, KB, MB or GB (powers of 1000, as `thunderdb load` reports them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const [unit, scale] = bytes < 1e6 ? ['KB', 1e3] : bytes < 1e9 ? ['MB', 1e6] : ['GB', 1e9];
  return `${(bytes / scale).toFixed(1)} ${unit}`;
}

/** A count with thousands separators; `-` when the node did not say (it is down). */
function count(value: number | undefined): string {
  return value === undefined ? '-' : value.toLocaleString('en-US');
}

/** "768 partitions, 12,345 keys, 1.2 MB": what a change moved. */
export function formatMoved(moved: Moved): string {
  return `${count(moved.partitions)} partitions, ${count(moved.keys)} keys, ${formatBytes(moved.bytes)}`;
}

const COLUMNS: [string, (node: NodeStatus) => string][] = [
  ['ID', (n) => String(n.id)],
  ['STATE', (n) => n.state + (n.error ? ` (${n.error})` : '')],
  ['KEYS', (n) => count(n.keys)],
  ['BYTES', (n) => (n.bytes === undefined ? '-' : formatBytes(n.bytes))],
  ['HINTS', (n) => count(n.hints)],
  ['OPS', (n) => count(n.ops)],
  ['PARTITIONS', (n) => count(n.partitions)],
];

/**
 * The nodes as a table, as `nodetool status` shows a Cassandra ring: one row per node,
 * columns aligned, numbers right-aligned; then a line with the ring's settings.
 */
export function formatNodesTable(status: ClusterStatus): string {
  const rows = [
    COLUMNS.map(([title]) => title),
    ...status.nodes.map((node) => COLUMNS.map(([, cell]) => cell(node))),
  ];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, i) => (i <= 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  const { partitions, replicas, r, w } = status.ring;
  lines.push(
    '',
    `${status.nodes.length} nodes, ${partitions} partitions, replicas ${replicas}, r ${r}, w ${w}`,
  );
  return lines.join('\n') + '\n';
}
