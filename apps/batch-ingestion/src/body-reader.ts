import { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ContentCoding } from '@pipeline/batch';

export type BodyRead =
  | { ok: true; body: Buffer; wireBytes: number }
  | { ok: false; reason: 'too_large' | 'bad_encoding' | 'timeout' | 'aborted'; message: string };

export interface ReadBodyOptions {
  /** Most bytes accepted, both as sent and after decompression. */
  limit: number;
  coding: ContentCoding;
  timeoutMs: number;
}

/**
 * Reads a request body up to `limit` bytes, gunzipping on the fly when asked. The limit holds for
 * the bytes on the wire and for the decompressed bytes, and reading stops as soon as either is
 * exceeded: an oversized body or a zip bomb costs at most `limit` bytes of memory. On failure the
 * source is left paused (never destroyed, which would take the socket and the answer with it);
 * the caller answers, then hands the request to discardRest.
 */
export function readBody(source: Readable, { limit, coding, timeoutMs }: ReadBodyOptions): Promise<BodyRead> {
  return new Promise<BodyRead>((resolve) => {
    const chunks: Buffer[] = [];
    let wireBytes = 0;
    let bodyBytes = 0;
    let settled = false;
    let ended = false;
    const gunzip = coding === 'gzip' ? createGunzip() : undefined;

    const finish = (result: BodyRead) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onClose);
      if (!result.ok) {
        source.pause();
        gunzip?.destroy();
      }
      resolve(result);
    };
    const tooLarge = (what: string) => finish({ ok: false, reason: 'too_large', message: `The ${what} exceeds ${limit} bytes.` });

    const collect = (chunk: Buffer) => {
      if (settled) return;
      bodyBytes += chunk.length;
      if (bodyBytes > limit) return tooLarge(gunzip ? 'decompressed body' : 'body');
      chunks.push(chunk);
    };
    const onData = (chunk: Buffer) => {
      wireBytes += chunk.length;
      if (wireBytes > limit) return tooLarge('body');
      if (!gunzip) return collect(chunk);
      if (!gunzip.write(chunk)) {
        source.pause();
        gunzip.once('drain', () => settled || source.resume());
      }
    };
    const complete = () => finish({ ok: true, body: Buffer.concat(chunks, bodyBytes), wireBytes });
    const onEnd = () => {
      ended = true;
      if (gunzip) gunzip.end();
      else complete();
    };
    const onError = (err: Error) => finish({ ok: false, reason: 'aborted', message: err.message });
    const onClose = () => {
      if (!ended) finish({ ok: false, reason: 'aborted', message: 'the client closed the connection before the body was complete' });
    };

    const timer = setTimeout(
      () => finish({ ok: false, reason: 'timeout', message: `The body was not received within ${timeoutMs} ms.` }),
      timeoutMs,
    );
    if (gunzip) {
      gunzip.on('data', collect);
      gunzip.on('end', complete);
      gunzip.on('error', (err) => finish({ ok: false, reason: 'bad_encoding', message: `The body is not valid gzip: ${err.message}` }));
    }
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onError);
    source.on('close', onClose);
    // A stream that already ended before we attached (an empty injected body) still completes.
    if (source.readableEnded) onEnd();
  });
}

export interface DiscardOptions {
  maxBytes: number;
  maxMs: number;
}

/**
 * After an early answer (413, 401, ...), whatever the client is still sending is read and
 * dropped, never kept, for at most `maxBytes` or `maxMs`; past either bound the connection is
 * cut. Closing at once would make the kernel reset the connection while the client is still
 * writing, and a client that has not read the answer yet would see only the reset. A client
 * that stops sending within the bounds keeps its connection.
 */
export function discardRest(req: IncomingMessage, { maxBytes, maxMs }: DiscardOptions): void {
  if (req.complete || req.readableEnded || req.destroyed) return;
  let discarded = 0;
  const done = () => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', done);
  };
  const cut = () => {
    done();
    req.pause();
    // Destroying an unfinished request destroys its socket.
    req.destroy();
  };
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) cut();
  };
  const timer = setTimeout(cut, maxMs);
  req.on('data', onData);
  req.once('end', done);
  req.resume();
}
