/** The package's own types are missing: the Redis Cluster hash slot (0 to 16383) of a key. */
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string | Buffer): number;
}
