// Kafka's users and ACLs exactly as the stack's provisioning step makes them
// (infra/kafka/provision-access.sh), on a broker of this test's own configured as the native
// stack's: the three services run end to end with their own users on the topics and groups they are
// configured with; then, the services stopped, each user is held to its own topics and group, and a
// client without a login or with a wrong password is refused everything.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, SASLOptions } from 'kafkajs';
import { consumerLag } from './lag';
import { adminKafka, Pipeline, PrivateServer, privateKafka, REPO_ROOT, stackInstall, startPipeline, uniqueName, waitFor } from '@pipeline/testing';

jest.setTimeout(420_000);

const run = promisify(execFile);
type Login = { username: string; password: string };
const USERS: Record<'ingestion' | 'summarizer' | 'aggregator', Login> = {
  ingestion: { username: 'it-ingestion', password: 'it-ingestion-secret-0123456789' },
  summarizer: { username: 'it-summarizer', password: 'it-summarizer-secret-012345678' },
  aggregator: { username: 'it-aggregator', password: 'it-aggregator-secret-012345678' },
};
const id = uniqueName('acl').toLowerCase();
const TOPICS = {
  ingested: `${id}-batch-ingested`,
  insight: `${id}-insight-events`,
  ingestedDlq: `${id}-batch-ingested-dlq`,
  insightDlq: `${id}-insight-events-dlq`,
};
const GROUPS = { summarizer: `${id}-summarizer`, aggregator: `${id}-aggregator` };
const CUSTOMER = 'cus-acl';

let broker: PrivateServer;
let pipeline: Pipeline;
let counted = 0;

type LogLine = Record<string, unknown>;
const client = (login?: Login, logs?: LogLine[]) =>
  new Kafka({
    clientId: 'it-acl',
    brokers: [broker.endpoint],
    sasl: login ? ({ mechanism: 'scram-sha-512', ...login } as SASLOptions) : undefined,
    connectionTimeout: 3_000,
    retry: { retries: 1, initialRetryTime: 100 },
    // kafkajs folds some refusals into errors of its own (a group it may not use reads as "no
    // coordinator"); the broker's answer is in its debug log.
    logLevel: logs ? logLevel.DEBUG : logLevel.NOTHING,
    logCreator: () => (entry) => void logs?.push(entry.log as LogLine),
  });

/** The authorization failure the broker answered, wherever kafkajs put it; anything else is said as such. */
function refusal(err: unknown, logs: LogLine[] = []): string {
  const types = new Set<string>();
  const visit = (e: unknown, depth = 0) => {
    if (!e || typeof e !== 'object' || depth > 4) return;
    const x = e as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown[] };
    if (typeof x.type === 'string') types.add(x.type);
    visit(x.cause, depth + 1);
    visit(x.originalError, depth + 1);
    for (const inner of Array.isArray(x.errors) ? x.errors : []) visit(inner, depth + 1);
  };
  visit(err);
  for (const line of logs) visit(line.error);
  return [...types].find((t) => /AUTHORIZATION_FAILED$/.test(t)) ?? `no authorization failure (${(err as Error)?.message ?? String(err)})`;
}

/** 'ok', or the refusal, of one idempotent send (as the services produce) by `login` to each topic. */
async function writes(login: Login, topics: string[]): Promise<Record<string, string>> {
  const producer = client(login).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const out: Record<string, string> = {};
  try {
    for (const topic of topics) {
      out[topic] = await producer.send({ topic, acks: -1, messages: [{ key: 'acl', value: 'probe' }] }).then(
        () => 'ok',
        (e: unknown) => refusal(e),
      );
    }
  } finally {
    await producer.disconnect();
  }
  return out;
}

/** 'ok' when `login` reads a message of `topic` in `groupId`, else the broker's refusal. */
async function reads(login: Login, topic: string, groupId: string): Promise<string> {
  const logs: LogLine[] = [];
  const consumer = client(login, logs).consumer({ groupId, sessionTimeout: 6_000, heartbeatInterval: 500, retry: { retries: 1 } });
  let got = false;
  let crashed: unknown;
  consumer.on(consumer.events.CRASH, (e) => {
    crashed = e.payload.error;
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async () => {
        got = true;
      },
    });
    await waitFor(`${login.username} reading ${topic} in ${groupId}`, async () => got || crashed !== undefined, 45_000, 100);
    return got ? 'ok' : refusal(crashed, logs);
  } catch (err) {
    return refusal(err, logs);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

beforeAll(async () => {
  broker = await privateKafka();
  const admin = adminKafka();
  await run('bash', [join(REPO_ROOT, 'infra/kafka/provision-access.sh')], {
    env: {
      ...process.env,
      KAFKA_BROKERS: broker.endpoint,
      KAFKA_CLASSPATH: `${stackInstall().kafkaLibs}/*`,
      KAFKA_LOG4J: join(REPO_ROOT, 'infra/local/kafka/log4j2.yaml'),
      SASL_ADMIN_USER: admin.username,
      SASL_ADMIN_PASSWORD: admin.password,
      INGESTION_KAFKA_USER: USERS.ingestion.username,
      INGESTION_KAFKA_PASSWORD: USERS.ingestion.password,
      SUMMARIZER_KAFKA_USER: USERS.summarizer.username,
      SUMMARIZER_KAFKA_PASSWORD: USERS.summarizer.password,
      AGGREGATOR_KAFKA_USER: USERS.aggregator.username,
      AGGREGATOR_KAFKA_PASSWORD: USERS.aggregator.password,
      TOPIC_BATCH_INGESTED: TOPICS.ingested,
      TOPIC_INSIGHT_EVENTS: TOPICS.insight,
      TOPIC_BATCH_INGESTED_DLQ: TOPICS.ingestedDlq,
      TOPIC_INSIGHT_EVENTS_DLQ: TOPICS.insightDlq,
      SUMMARIZER_GROUP_ID: GROUPS.summarizer,
      AGGREGATOR_GROUP_ID: GROUPS.aggregator,
    },
    timeout: 240_000,
  });

  // The services create their topics themselves, each logged in as its own user.
  const own = (u: Login) => ({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: u.username, KAFKA_SASL_PASSWORD: u.password });
  pipeline = await startPipeline('kafka-acl', {
    env: {
      KAFKA_BROKERS: broker.endpoint,
      TOPIC_BATCH_INGESTED: TOPICS.ingested,
      TOPIC_INSIGHT_EVENTS: TOPICS.insight,
      TOPIC_BATCH_INGESTED_DLQ: TOPICS.ingestedDlq,
      TOPIC_INSIGHT_EVENTS_DLQ: TOPICS.insightDlq,
      SUMMARIZER_GROUP_ID: GROUPS.summarizer,
      AGGREGATOR_GROUP_ID: GROUPS.aggregator,
    },
    appEnv: { 'batch-ingestion': own(USERS.ingestion), 'batch-summarizer': own(USERS.summarizer), 'window-aggregator': own(USERS.aggregator) },
  });
  const entries = Array.from({ length: 7 }, (_, i) => ({ receivedAt: '2025-12-28T18:03:00Z', method: 'GET', path: `/p${i % 3}`, userAgent: 'curl/8.5.0' }));
  const res = await fetch(`${pipeline.apps['batch-ingestion'].url}/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-customer-id': CUSTOMER, authorization: `Bearer ${pipeline.env.GATEWAY_TOKEN}` },
    body: JSON.stringify(entries),
  });
  expect(res.status).toBe(202);
  counted = await waitFor('the batch counted', async () => (await pipeline.minutes(CUSTOMER))['2025-12-28T18:03Z']?.total, 90_000);
  // The rest reads and writes as the users themselves, on a quiet broker: no service takes a
  // message or a group's partitions from under the checks.
  await Promise.all(Object.values(pipeline.apps).map((app) => app.stop()));
});

afterAll(async () => {
  await pipeline?.stop();
  await broker?.dispose();
});

describe('Kafka users and ACLs of the provisioning step', () => {
  it('carries the three services end to end, each with its own user, on the topics and groups they are configured with', async () => {
    expect(counted).toBe(7);
    // Created at start by the services (CREATE on exactly their topics), not by this test.
    const topics = await withAdminClient((a) => a.listTopics());
    expect(topics.filter((t) => t.startsWith(id)).sort()).toEqual(Object.values(TOPICS).sort());
  });

  it('refuses a client without a login: it cannot even list the topics', async () => {
    const anonymous = client().admin();
    const listed = await anonymous.connect().then(() => anonymous.listTopics()).catch((e: unknown) => e);
    await anonymous.disconnect().catch(() => undefined);
    expect(listed).toBeInstanceOf(Error);
    expect((listed as Error).message).toMatch(/Closed connection|ECONNRESET|Connection error/);
    // The same request with a login answers: the refusal is the missing login's.
    expect(await withAdminClient((a) => a.listTopics())).toEqual(expect.arrayContaining([TOPICS.ingested]));
  });

  it('refuses a wrong password', async () => {
    const admin = client({ username: USERS.ingestion.username, password: 'not-its-password-0123456789' }).admin();
    const refused = await admin.connect().catch((e: unknown) => e);
    await admin.disconnect().catch(() => undefined);
    expect((refused as Error)?.message).toMatch(/SASL SCRAM SHA512 authentication failed.*invalid credentials/);
  });

  it("lets each service write its own topics and no other service's", async () => {
    const all = Object.values(TOPICS);
    const expected = (own: string[]) => Object.fromEntries(all.map((t) => [t, own.includes(t) ? 'ok' : 'TOPIC_AUTHORIZATION_FAILED']));
    expect(await writes(USERS.ingestion, all)).toEqual(expected([TOPICS.ingested]));
    expect(await writes(USERS.summarizer, all)).toEqual(expected([TOPICS.insight, TOPICS.ingestedDlq]));
    expect(await writes(USERS.aggregator, all)).toEqual(expected([TOPICS.insightDlq]));
  });

  it("lets each consumer read its own topic in its own group, and neither another topic nor another's group", async () => {
    const producer = client(adminKafka()).producer();
    await producer.connect();
    await producer.send({ topic: TOPICS.ingested, messages: [{ value: 'for the summarizer' }] });
    await producer.send({ topic: TOPICS.insight, messages: [{ value: 'for the aggregator' }] });
    await producer.disconnect();
    expect(await reads(USERS.summarizer, TOPICS.ingested, GROUPS.summarizer)).toBe('ok');
    expect(await reads(USERS.aggregator, TOPICS.insight, GROUPS.aggregator)).toBe('ok');

    expect(await reads(USERS.summarizer, TOPICS.insight, GROUPS.summarizer)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await reads(USERS.aggregator, TOPICS.ingested, GROUPS.aggregator)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await reads(USERS.summarizer, TOPICS.ingested, GROUPS.aggregator)).toBe('GROUP_AUTHORIZATION_FAILED');
    expect(await reads(USERS.aggregator, TOPICS.insight, GROUPS.summarizer)).toBe('GROUP_AUTHORIZATION_FAILED');
    // The ingestion only writes: no group is its to read with.
    expect(await reads(USERS.ingestion, TOPICS.ingested, GROUPS.summarizer)).toBe('GROUP_AUTHORIZATION_FAILED');
  });

  it("lets the ingestion read the summarizer group's backlog (its committed offsets), and no other group's", async () => {
    const logs: LogLine[] = [];
    const admin = client(USERS.ingestion, logs).admin();
    await admin.connect();
    try {
      const lag = await consumerLag(admin, GROUPS.summarizer, TOPICS.ingested);
      expect(lag.map((p) => p.partition).sort()).toEqual([0, 1, 2]);
      expect(refusal(await consumerLag(admin, GROUPS.aggregator, TOPICS.ingested).catch((e: unknown) => e), logs)).toBe('GROUP_AUTHORIZATION_FAILED');
    } finally {
      await admin.disconnect();
    }
  });

  it('shows a service only its own topics, and lets it create, delete or administer nothing else', async () => {
    const admin = client(USERS.ingestion).admin();
    await admin.connect();
    try {
      expect((await admin.listTopics()).filter((t) => t.startsWith(id))).toEqual([TOPICS.ingested]);
      expect(refusal(await admin.createTopics({ topics: [{ topic: `${id}-another` }] }).catch((e: unknown) => e))).toBe('TOPIC_AUTHORIZATION_FAILED');
      expect(refusal(await admin.deleteTopics({ topics: [TOPICS.ingested] }).catch((e: unknown) => e))).toBe('TOPIC_AUTHORIZATION_FAILED');
      // ACLs are the administrator's: kafkajs' ACL_RESOURCE_TYPES.TOPIC, ANY pattern, operation and permission.
      expect(refusal(await admin.describeAcls({ resourceType: 2, resourcePatternType: 1, operation: 1, permissionType: 1 }).catch((e: unknown) => e))).toBe(
        'CLUSTER_AUTHORIZATION_FAILED',
      );
    } finally {
      await admin.disconnect();
    }
    const listed = async (login: Login) => {
      const other = client(login).admin();
      await other.connect();
      try {
        return (await other.listTopics()).filter((t) => t.startsWith(id)).sort();
      } finally {
        await other.disconnect();
      }
    };
    expect(await listed(USERS.summarizer)).toEqual([TOPICS.ingested, TOPICS.ingestedDlq, TOPICS.insight].sort());
    expect(await listed(USERS.aggregator)).toEqual([TOPICS.insight, TOPICS.insightDlq].sort());
  });
});

async function withAdminClient<T>(use: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
  const admin = client(adminKafka()).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}
