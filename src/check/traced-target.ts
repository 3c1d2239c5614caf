import type { TraceRecorder } from '../sim/trace.js';
import type { Target } from './target.js';

/**
 * `target` with its faults, crashes and restarts told to `trace` (the deterministic mode's
 * recorder). Each is recorded as it is asked for and the target's own promise is handed
 * back unchanged: no promise is added between the caller and the cluster, so the run's
 * order of events is the untraced run's.
 */
export function tracedTarget(target: Target, trace: TraceRecorder): Target {
  return {
    ...target,
    addFault: (fault) => {
      const traced = trace.faultBegan(fault);
      const added = target.addFault(fault);
      added.then(
        (id) => (traced.id = id),
        () => {},
      );
      return added;
    },
    healFault: (id) => {
      trace.healed(id);
      return target.healFault(id);
    },
    healAll: () => {
      trace.healed(null);
      return target.healAll();
    },
    crash: (node) => {
      trace.crashed(node);
      return target.crash(node);
    },
    restart: (node) => {
      trace.restarted(node);
      return target.restart(node);
    },
  };
}
