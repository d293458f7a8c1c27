/**
 * A bound on one stdio message of `braid mcp`. The MCP SDK's StdioServerTransport buffers stdin until a newline;
 * past its own limit it closes the transport without a word, and `braid mcp` used to leave with exit 0. This stream
 * sits between stdin and the transport, counts the bytes since the last newline and, past `maxBytes`, stops passing
 * data on and reports it once, so the command can answer with a JSON-RPC error and leave with a non-zero exit.
 */
import { Transform, type Readable } from 'node:stream';

/** The largest message `braid mcp` reads from stdin (the SDK's own limit is 10 MiB). */
export const MAX_STDIO_MESSAGE_BYTES = 4 * 1024 * 1024;

/** `input` through a counter of the bytes since its last newline; `onOversize` is called once, past `maxBytes`. */
export function boundLines(input: Readable, maxBytes: number, onOversize: (bytes: number) => void): Transform {
  let line = 0;
  let over = false;
  const bounded = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (over) return done();
      // Every complete line in the chunk (the first one continues the line counted so far), then the rest.
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        if (line + nl - start > maxBytes) return oversize(line + nl - start, chunk.subarray(0, start), done);
        line = 0;
        start = nl + 1;
      }
      line += chunk.length - start;
      if (line > maxBytes) return oversize(line, chunk.subarray(0, start), done);
      done(null, chunk);
    },
  });
  /** The complete lines before the long one still go on; nothing after it does. */
  const oversize = (bytes: number, before: Buffer, done: (err?: null, data?: Buffer) => void) => {
    over = true;
    done(null, before.length ? before : undefined);
    onOversize(bytes);
  };
  input.pipe(bounded);
  return bounded;
}
