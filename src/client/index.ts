/**
 * ThunderDB's TypeScript client: `import { ThunderClient } from 'thunderdb'`. It talks to a
 * running cluster over its HTTP API with the global `fetch` (Node 20 or later) and loads
 * nothing of the server.
 */
export {
  ThunderClient,
  MAX_PAGE,
  type DeleteOptions,
  type PutManyOptions,
  type PutOptions,
  type ReadOptions,
  type Value,
} from './client.js';
export { DEFAULT_URL } from '../config.js';
export { ClusterUnreachableError, ThunderHttpError, type CatalogueCode } from './errors.js';
export type * from './types.js';
