import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisTarget } from './options.js';
import { processAlive, ringMismatch, type RingSettings } from './claim.js';
import type { RingRecord, StoredRing } from './ring-record.js';
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
/** Takes the claim from the holder ARGV[1] named, only if it still holds it. */
const TAKE_OVER = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;
/** Deletes the claim only if it is still this holder's. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** A claimed Redis prefix: the ring it holds (null when new), how to store a changed one, how to let go. */
export interface RedisClaim {
  stored: StoredRing | null;
  /** Stores the ring after a join or a leave, before the cluster moves to it (rejects if Redis does). */
  saveRing(record: RingRecord): Promise<void>;
  release(): Promise<void>;
}

/**
 * Takes `prefix` in Redis for this process, as {@link claimDataDir} takes a data directory:
 * refuses it while another cluster holds it (`<prefix>lock`, `host:pid:token`, renewed every 5 s
 * and expiring 15 s after the last renewal; a lock left by a dead process of this host is
 * taken over at once), and refuses ring settings other than those its data was placed with
 * (`<prefix>ring`, which also keeps a ring changed by joins and leaves).
 */
export async function claimRedisPrefix(
  target: RedisTarget,
  prefix: string,
  settings: RingSettings,
): Promise<RedisClaim> {
  const client = await connectRedis(target);
  const lock = `${prefix}lock`;
  // The token tells this claim from an earlier one of the same host and pid (a container
  // restarted with the same hostname often gets the same pid).
  const holder = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  const where = `--redis-prefix ${prefix} at ${describeTarget(target)}`;
  const ringKey = `${prefix}ring`;
  let stored: StoredRing | null;
  let locked = false;
  try {
    for (let tries = 0; !locked; tries++) {
      if ((await client.set(lock, holder, 'PX', CLAIM_TTL_MS, 'NX')) !== null) break;
      const other = await client.get(lock);
      // Gone between the two calls: try again. Left by a dead holder: take it, if it is
      // still that holder's (another process may be taking it over at the same moment).
      if (other !== null && !leftBehind(other)) {
        throw new RangeError(`${where} is in use by ${other}; stop it first, or choose another prefix`);
      }
      if (other !== null) locked = (await client.eval(TAKE_OVER, 1, lock, other, holder, CLAIM_TTL_MS)) === 1;
      if (!locked && tries === 3) throw new RangeError(`${where}: could not take ${lock}; try again`);
    }
    locked = true;
    held.add(holder);
    const saved = await client.get(ringKey);
    stored = saved === null ? null : (JSON.parse(saved) as StoredRing);
    if (stored !== null) {
      const mismatch = ringMismatch(where, stored, settings);
      if (mismatch !== null) throw new RangeError(`${mismatch}, or use another prefix`);
    }
    if (stored === null || !('table' in stored)) await client.set(ringKey, JSON.stringify(settings));
  } catch (err) {
    held.delete(holder);
    if (locked) await client.eval(RELEASE, 1, lock, holder).catch(() => {});
    await disconnectRedis(client);
    throw err;
  }
  let warned = false;
  const timer = setInterval(() => {
    // A renewal that fails is retried at the next tick (the nodes' own writes meet the same
    // outage and say so); one that finds another holder is said once, loudly.
    client.eval(RENEW, 1, lock, holder, CLAIM_TTL_MS).then(
      (renewed) => {
        if (renewed !== 0 || warned) return;
        warned = true;
        process.emitWarning(
          `${where}: ${lock} is now held by another cluster; two clusters are writing the same keys`,
        );
      },
      () => {},
    );
  }, RENEW_MS);
  timer.unref();
  return {
    stored,
    saveRing: async (record) => void (await client.set(ringKey, JSON.stringify(record))),
    release: async () => {
      clearInterval(timer);
      held.delete(holder);
      await client.eval(RELEASE, 1, lock, holder).catch(() => {});
      await disconnectRedis(client);
    },
  };
}

/** The claims this process holds now: a lock naming one of them is not left behind. */
const held = new Set<string>();

/**
 * Whether a lock's `host:pid:token` was left behind by a process of this host: one that is
 * gone, or this very process in an earlier life (same pid, a token it does not hold).
 */
function leftBehind(holder: string): boolean {
  const [host, pidText] = holder.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid)) return false;
  if (pid === process.pid) return !held.has(holder);
  return !processAlive(pid);
}
