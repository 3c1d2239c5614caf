/**
 * Reads a callgrind dump (`callgrind.out.N`, format of valgrind's callgrind_format docs, one
 * event: Ir) into its total and the inclusive cost of calls into named functions.
 */
import { readFile } from 'node:fs/promises';

/** A dump's instructions: all of them, and those spent inside each excluded function's calls. */
export interface DumpCost {
  total: number;
  /** By the name given in `excluded`: Ir of every call into a function whose name matches. */
  inside: Record<string, number>;
}

/**
 * Reads `path`. `excluded` names functions by a pattern of their demangled name; the cost
 * of a call (the line after `calls=`) is inclusive, so a function must not be reached
 * again from inside itself or it is counted twice (true of V8's GC and compiler entries).
 */
export async function readDump(path: string, excluded: Record<string, RegExp>): Promise<DumpCost> {
  const text = await readFile(path, 'latin1');
  // Names are compressed: `cfn=(12) name` the first time, `cfn=(12)` after.
  const names = new Map<string, string>();
  const inside: Record<string, number> = Object.fromEntries(Object.keys(excluded).map((k) => [k, 0]));
  let total: number | null = null;
  let callee = '';
  let callCostNext = false;
  for (const line of text.split('\n')) {
    if (callCostNext) {
      // `<position> <inclusive Ir of the call>`
      callCostNext = false;
      const cost = Number(line.slice(line.indexOf(' ') + 1));
      for (const [name, pattern] of Object.entries(excluded)) if (pattern.test(callee)) inside[name]! += cost;
    } else if (line.startsWith('calls=')) {
      callCostNext = true;
    } else if (line.startsWith('fn=(') || line.startsWith('cfn=(')) {
      const close = line.indexOf(')');
      const id = line.slice(line.indexOf('(') + 1, close);
      if (line.length > close + 1) names.set(id, line.slice(close + 2));
      if (line.startsWith('cfn=')) callee = names.get(id) ?? '';
    } else if (line.startsWith('totals: ')) {
      total = Number(line.slice('totals: '.length));
    }
  }
  if (total === null) throw new Error(`no totals in ${path}`);
  return { total, inside };
}
