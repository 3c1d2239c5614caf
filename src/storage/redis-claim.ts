import { hostname } from 'node:os';
import type { RedisTarget } from './options.js';
import { processAlive, ringMismatch, type RingSettings } from './claim.js';
import { connectRedis, describeTarget, disconnectRedis } from './redis-client.js';

/** How long a claim outlives its holder's last renewal: a holder killed with -9 frees it after this. */
export const CLAIM_TTL_MS = 15_000;
const RENEW_MS = 5_000;

/**
 * Renews the claim while it is still this holder's, or takes it again if it is gone (a Redis
 * restarted without persistence); leaves it to another holder that took it meanwhile.
 */
const RENEW = `local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 0`;
/** Deletes the claim only if it is still this holder's. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Takes `prefix` in Redis for this process, as {@link claimDataDir} takes a data directory:
 * refuses it while another cluster holds it (`<prefix>lock`, `host:pid`, renewed every 5 s
 * and expiring 15 s after the last renewal; a lock left by a dead process of this host is
 * taken over at once), and refuses ring settings other than those its data was placed with
 * (`<prefix>ring`). Resolves to the function that lets go of it.
 */
export async function claimRedisPrefix(
  target: RedisTarget,
  prefix: string,
  settings: RingSettings,
): Promise<() => Promise<void>> {
  const client = await connectRedis(target);
  const lock = `${prefix}lock`;
  const holder = `${hostname()}:${process.pid}`;
  const where = `--redis-prefix ${prefix} at ${describeTarget(target)}`;
  try {
    const taken = await client.set(lock, holder, 'PX', CLAIM_TTL_MS, 'NX');
    if (taken === null) {
      const other = await client.get(lock);
      if (other === null || !leftByDeadProcess(other)) {
        throw new RangeError(
          `${where} is in use by ${other ?? 'another cluster'}; stop it first, or choose another prefix`,
        );
      }
      await client.set(lock, holder, 'PX', CLAIM_TTL_MS);
    }
    const ring = `${prefix}ring`;
    const saved = await client.get(ring);
    if (saved !== null) {
      const mismatch = ringMismatch(where, JSON.parse(saved) as RingSettings, settings);
      if (mismatch !== null) {
        await client.eval(RELEASE, 1, lock, holder);
        throw new RangeError(`${mismatch}, or use another prefix`);
      }
    }
    await client.set(ring, JSON.stringify(settings));
  } catch (err) {
    await disconnectRedis(client);
    throw err;
  }
  const timer = setInterval(() => {
    // A failed renewal is not fatal: the nodes' own writes meet the same outage and say so.
    client.eval(RENEW, 1, lock, holder, CLAIM_TTL_MS).catch(() => {});
  }, RENEW_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await client.eval(RELEASE, 1, lock, holder).catch(() => {});
    await disconnectRedis(client);
  };
}

/** Whether a lock's `host:pid` names a process of this host that is gone. */
function leftByDeadProcess(holder: string): boolean {
  const at = holder.lastIndexOf(':');
  const pid = Number(holder.slice(at + 1));
  return holder.slice(0, at) === hostname() && Number.isInteger(pid) && !processAlive(pid);
}
