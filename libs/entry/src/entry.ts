/** One HTTP access-log entry as a client sends it (extra fields are ignored). */
export interface LogEntry {
  /** RFC 3339 timestamp with `Z` or an offset. */
  receivedAt: string;
  method: string;
  path: string;
  userAgent: string;
}
