/** One segment of a pattern tree: its children by kind, and what ends here. */
class Segment<T> {
  readonly statics = new Map<string, Segment<T>>();
  param: Segment<T> | null = null;
  /** What a final `*` here matches (the rest of the path, empty or not). */
  rest: T | null = null;
  /** What a pattern ending at this segment matches. */
  here: T | null = null;
}

/** A match: what was registered, and the `:name` segments' values in order. */
export interface Match<T> {
  value: T;
  params: string[];
}

/**
 * uWS's URL patterns, matched as uWS matches them: `/a/b` (static segments), `/a/:id`
 * (a segment of any text) and `/a/*` (a final star: the rest of the path, slashes and all);
 * at each segment a static one is tried first, then `:name`, then `*`, backtracking when a
 * branch ends without a match. Paths are matched as sent, before percent-decoding.
 */
export class RouteTree<T> {
  readonly #root = new Segment<T>();

  /** Registers `value` for `pattern`; a second registration of the same pattern keeps the first, as uWS does. */
  add(pattern: string, value: T): void {
    if (!pattern.startsWith('/')) throw new TypeError(`a route pattern starts with /, got ${pattern}`);
    const parts = pattern === '/' ? [] : pattern.slice(1).split('/');
    let at = this.#root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '*') {
        if (i !== parts.length - 1) throw new TypeError(`* ends a route pattern, in ${pattern}`);
        at.rest ??= value;
        return;
      }
      if (part.startsWith(':')) at = at.param ??= new Segment<T>();
      else {
        let next = at.statics.get(part);
        if (next === undefined) at.statics.set(part, (next = new Segment<T>()));
        at = next;
      }
    }
    at.here ??= value;
  }

  /** What `path` (which starts with `/`) matches, or null. */
  match(path: string): Match<T> | null {
    const params: string[] = [];
    // "/" has no segment; "/a" one; "/a/" two, the second empty.
    const value =
      path === '/' ? (this.#root.here ?? this.#root.rest) : this.#from(this.#root, path, 1, params);
    return value === null ? null : { value, params };
  }

  /** Matches the segments of `path` from index `from`, the start of one (just after a `/`). */
  #from(at: Segment<T>, path: string, from: number, params: string[]): T | null {
    const slash = path.indexOf('/', from);
    const end = slash < 0 ? path.length : slash;
    const child = at.statics.get(path.slice(from, end));
    if (child !== undefined) {
      const found = slash < 0 ? child.here : this.#from(child, path, slash + 1, params);
      if (found !== null) return found;
    }
    if (at.param !== null) {
      params.push(path.slice(from, end));
      const found = slash < 0 ? at.param.here : this.#from(at.param, path, slash + 1, params);
      if (found !== null) return found;
      params.pop();
    }
    return at.rest;
  }
}
