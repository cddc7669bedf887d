import { isBatchId, isCustomerId } from '@pipeline/contract';
import { Checked, accept, reject } from './rejection';

/** A header as Node delivers it: absent, one value, or several when it was repeated. */
export type HeaderValue = string | string[] | undefined;

export type ContentCoding = 'identity' | 'gzip';

export interface BatchHeaders {
  customerId: string;
  /** The client's idempotency key; undefined when the batch id is to be derived from the body. */
  idempotencyKey?: string;
  contentEncoding: ContentCoding;
}

export interface RawBatchHeaders {
  customerId: HeaderValue;
  idempotencyKey: HeaderValue;
  contentType: HeaderValue;
  contentEncoding: HeaderValue;
}

/**
 * Checks the headers of `POST /logs` in the order a client most needs to hear about: who it is
 * (401/400), its idempotency key (400), then the media type and coding of the body (415). Runs
 * before a byte of the body is read, so a hostile header never reaches storage.
 */
export function checkBatchHeaders(h: RawBatchHeaders): Checked<BatchHeaders> {
  if (h.customerId === undefined || h.customerId === '') {
    return reject(401, 'missing_customer_id', 'The x-customer-id header is required.');
  }
  if (!isCustomerId(h.customerId)) {
    return reject(400, 'invalid_customer_id', 'The x-customer-id header must be 1-64 characters of [A-Za-z0-9._-] and not "." or "..".');
  }
  if (h.idempotencyKey !== undefined && !isBatchId(h.idempotencyKey)) {
    return reject(400, 'invalid_idempotency_key', 'The idempotency-key header must be 1-128 characters of [A-Za-z0-9._:-] and not "." or "..".');
  }
  if (!isJsonMediaType(h.contentType)) {
    return reject(415, 'unsupported_media_type', 'Content-Type must be application/json (charset, if given, utf-8).');
  }
  const coding = contentCodingOf(h.contentEncoding);
  if (coding === null) {
    return reject(415, 'unsupported_content_encoding', 'Content-Encoding must be gzip or identity (or absent).');
  }
  const value: BatchHeaders = { customerId: h.customerId, contentEncoding: coding };
  if (h.idempotencyKey !== undefined) value.idempotencyKey = h.idempotencyKey;
  return accept(value);
}

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const PARAMETER = new RegExp(`^(${TOKEN})=(?:(${TOKEN})|"((?:[^"\\\\]|\\\\.)*)")$`);

/**
 * `application/json` with optional parameters (RFC 9110 media-type grammar, case-insensitive).
 * JSON is UTF-8 (RFC 8259), so a charset parameter is allowed only when it says so.
 */
export function isJsonMediaType(header: HeaderValue): boolean {
  if (typeof header !== 'string') return false;
  const [type, ...params] = header.split(';');
  if (type.trim().toLowerCase() !== 'application/json') return false;
  for (const raw of params) {
    const param = raw.trim();
    if (param === '') continue;
    const m = PARAMETER.exec(param);
    if (!m) return false;
    const value = (m[2] ?? m[3].replace(/\\(.)/g, '$1')).toLowerCase();
    if (m[1].toLowerCase() === 'charset' && value !== 'utf-8' && value !== 'utf8') return false;
  }
  return true;
}

/** The coding of the body, or null when it is one the service does not decode. */
export function contentCodingOf(header: HeaderValue): ContentCoding | null {
  if (header === undefined) return 'identity';
  if (typeof header !== 'string') return null;
  const coding = header.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  return null;
}
