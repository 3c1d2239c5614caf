/** A figure measured several times: the median is quoted, min and max show the spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(runs: number[]): Spread {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs };
}

/** Runs `measure` `n` times in a row and gathers each named figure into a Spread. */
export async function repeat<K extends string>(
  n: number,
  measure: () => Promise<Record<K, number>>,
): Promise<Record<K, Spread>> {
  const all: Record<string, number[]> = {};
  for (let i = 0; i < n; i++) {
    for (const [k, v] of Object.entries(await measure()) as [K, number][]) (all[k] ??= []).push(v);
  }
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, spread(v)])) as Record<K, Spread>;
}
