import type { ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** A file `load` cannot read, with the system's code (`ENOENT`, `EISDIR`, …). */
export class LoadFileError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'LoadFileError';
    this.code = code;
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory; give a file of "key value" lines',
};

/** An opened file to load: its stream and its size (0 for a pipe or device: unknown). */
export interface LoadSource {
  stream: ReadStream;
  size: number;
}

/**
 * Opens a file for a bulk load, turning every reason it cannot be read into one line a
 * person can act on (`cannot load data/: it is a directory; …`), before anything is sent.
 * Opening first and asking the open file its size also catches a file that stat allows but
 * open refuses.
 */
export async function openLoadFile(path: string, chunkBytes: number): Promise<LoadSource> {
  try {
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
      return {
        stream: handle.createReadStream({ highWaterMark: chunkBytes }),
        size: info.isFile() ? info.size : 0,
      };
    } catch (err) {
      await handle.close();
      throw err;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const reason = REASONS[code] ?? (err as Error).message;
    throw new LoadFileError(code, `cannot load ${path}: ${reason}`);
  }
}
