import type { FailureKind } from './dependency-error';

/**
 * The one table per dependency that says what its failures mean (see FailureKind). Adapters read
 * the server's code from their client's error and ask here; nothing else decides.
 */

export interface Classified {
  kind: FailureKind;
  /** A stable name for the code (metric label, log field). */
  name: string;
}

/** ClickHouse server error codes by meaning (names as `errorCodeToName` gives them). */
const CLICKHOUSE: Record<number, Classified> = {
  // The data or statement: the same rows are refused the same way on every attempt.
  6: { kind: 'input', name: 'CANNOT_PARSE_TEXT' },
  25: { kind: 'input', name: 'CANNOT_PARSE_ESCAPE_SEQUENCE' },
  26: { kind: 'input', name: 'CANNOT_PARSE_QUOTED_STRING' },
  27: { kind: 'input', name: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' },
  38: { kind: 'input', name: 'CANNOT_PARSE_DATE' },
  41: { kind: 'input', name: 'CANNOT_PARSE_DATETIME' },
  53: { kind: 'input', name: 'TYPE_MISMATCH' },
  // Also what a statement above max_query_size gets: splitting the unit makes it pass.
  62: { kind: 'input', name: 'SYNTAX_ERROR' },
  69: { kind: 'input', name: 'ARGUMENT_OUT_OF_BOUND' },
  70: { kind: 'input', name: 'CANNOT_CONVERT_TYPE' },
  72: { kind: 'input', name: 'CANNOT_PARSE_NUMBER' },
  117: { kind: 'input', name: 'INCORRECT_DATA' },
  131: { kind: 'input', name: 'TOO_LARGE_STRING_SIZE' },
  167: { kind: 'input', name: 'TOO_DEEP_AST' },
  168: { kind: 'input', name: 'TOO_BIG_AST' },
  190: { kind: 'input', name: 'SIZES_OF_ARRAYS_DONT_MATCH' },
  321: { kind: 'input', name: 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE' },
  349: { kind: 'input', name: 'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN' },
  // The server answers but will not write anything until it is mended.
  16: { kind: 'refusing', name: 'NO_SUCH_COLUMN_IN_TABLE' },
  47: { kind: 'refusing', name: 'UNKNOWN_IDENTIFIER' },
  60: { kind: 'refusing', name: 'UNKNOWN_TABLE' },
  74: { kind: 'refusing', name: 'CANNOT_READ_FROM_FILE_DESCRIPTOR' },
  75: { kind: 'refusing', name: 'CANNOT_WRITE_TO_FILE_DESCRIPTOR' },
  76: { kind: 'refusing', name: 'CANNOT_OPEN_FILE' },
  81: { kind: 'refusing', name: 'UNKNOWN_DATABASE' },
  164: { kind: 'refusing', name: 'READONLY' },
  173: { kind: 'refusing', name: 'CANNOT_ALLOCATE_MEMORY' },
  192: { kind: 'refusing', name: 'UNKNOWN_USER' },
  193: { kind: 'refusing', name: 'WRONG_PASSWORD' },
  194: { kind: 'refusing', name: 'REQUIRED_PASSWORD' },
  195: { kind: 'refusing', name: 'IP_ADDRESS_NOT_ALLOWED' },
  201: { kind: 'refusing', name: 'QUOTA_EXCEEDED' },
  218: { kind: 'refusing', name: 'TABLE_IS_DROPPED' },
  241: { kind: 'refusing', name: 'MEMORY_LIMIT_EXCEEDED' },
  242: { kind: 'refusing', name: 'TABLE_IS_READ_ONLY' },
  243: { kind: 'refusing', name: 'NOT_ENOUGH_SPACE' },
  252: { kind: 'refusing', name: 'TOO_MANY_PARTS' },
  291: { kind: 'refusing', name: 'DATABASE_ACCESS_DENIED' },
  425: { kind: 'refusing', name: 'SYSTEM_ERROR' },
  497: { kind: 'refusing', name: 'ACCESS_DENIED' },
  516: { kind: 'refusing', name: 'AUTHENTICATION_FAILED' },
  // Down, busy or cut off mid-way.
  3: { kind: 'unavailable', name: 'UNEXPECTED_END_OF_FILE' },
  32: { kind: 'unavailable', name: 'ATTEMPT_TO_READ_AFTER_EOF' },
  159: { kind: 'unavailable', name: 'TIMEOUT_EXCEEDED' },
  202: { kind: 'unavailable', name: 'TOO_MANY_SIMULTANEOUS_QUERIES' },
  209: { kind: 'unavailable', name: 'SOCKET_TIMEOUT' },
  210: { kind: 'unavailable', name: 'NETWORK_ERROR' },
  225: { kind: 'unavailable', name: 'NO_ZOOKEEPER' },
  236: { kind: 'unavailable', name: 'ABORTED' },
  279: { kind: 'unavailable', name: 'ALL_CONNECTION_TRIES_FAILED' },
  // Replicas (a cluster): a write waits for the replicas its quorum needs, none of it is the data's fault.
  254: { kind: 'unavailable', name: 'NO_ACTIVE_REPLICAS' },
  285: { kind: 'unavailable', name: 'TOO_FEW_LIVE_REPLICAS' },
  286: { kind: 'unavailable', name: 'UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE' },
  289: { kind: 'unavailable', name: 'REPLICA_IS_NOT_IN_QUORUM' },
  319: { kind: 'unavailable', name: 'UNKNOWN_STATUS_OF_INSERT' },
  394: { kind: 'unavailable', name: 'QUERY_WAS_CANCELLED' },
  439: { kind: 'unavailable', name: 'CANNOT_SCHEDULE_TASK' },
  999: { kind: 'unavailable', name: 'KEEPER_EXCEPTION' },
};

/** A ClickHouse failure by its server code; no code means no answer (down, timed out). */
export function classifyClickHouse(code: number | undefined): Classified {
  if (code === undefined) return { kind: 'unavailable', name: 'unavailable' };
  return CLICKHOUSE[code] ?? { kind: 'unknown', name: `code_${code}` };
}

/** S3 statuses by meaning. */
const S3_STATUS: Record<number, FailureKind> = {
  // The request itself is malformed or too large.
  400: 'input',
  411: 'input',
  413: 'input',
  414: 'input',
  // Denied credentials or policy, a missing bucket, a full disk (MinIO's 507 XMinioStorageFull).
  401: 'refusing',
  403: 'refusing',
  404: 'refusing',
  405: 'refusing',
  507: 'refusing',
  // Throttled, restarting, or a conflicting operation in progress.
  408: 'unavailable',
  409: 'unavailable',
  429: 'unavailable',
  500: 'unavailable',
  502: 'unavailable',
  503: 'unavailable',
  504: 'unavailable',
};

/** An S3 failure by its HTTP status; no status means no answer. */
export function classifyS3(status: number | undefined, errorName: string): Classified {
  if (status === undefined) return { kind: 'unavailable', name: 'unavailable' };
  return { kind: S3_STATUS[status] ?? 'unknown', name: `${status}_${errorName}` };
}

/** Kafka error types (the broker's error names, as kafkajs reports them) by meaning. */
const KAFKA_TYPE: Record<string, FailureKind> = {
  // This message: too large, malformed, or with a time the topic refuses.
  MESSAGE_TOO_LARGE: 'input',
  RECORD_LIST_TOO_LARGE: 'input',
  INVALID_RECORD: 'input',
  CORRUPT_MESSAGE: 'input',
  INVALID_TIMESTAMP: 'input',
  // Every message alike, until an operator mends it.
  TOPIC_AUTHORIZATION_FAILED: 'refusing',
  GROUP_AUTHORIZATION_FAILED: 'refusing',
  CLUSTER_AUTHORIZATION_FAILED: 'refusing',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'refusing',
  SASL_AUTHENTICATION_FAILED: 'refusing',
  UNKNOWN_TOPIC_OR_PARTITION: 'refusing',
  KAFKA_STORAGE_ERROR: 'refusing',
  POLICY_VIOLATION: 'refusing',
};

/**
 * A Kafka failure by its error type. Untyped failures (connection lost, retries exhausted,
 * request timeouts) and the broker errors kafkajs marks retriable are the cluster's state.
 */
export function classifyKafka(type: string | undefined, retriable: boolean | undefined): Classified {
  if (type === undefined) return { kind: 'unavailable', name: 'unavailable' };
  const kind = KAFKA_TYPE[type] ?? (retriable === false ? 'unknown' : 'unavailable');
  return { kind, name: type };
}
