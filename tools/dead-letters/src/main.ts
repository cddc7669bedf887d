import { Command, InvalidArgumentError, Option } from 'commander';
import { topicEnv } from '@pipeline/contract';
import { isEmptySelection, parsePlace, Selection } from '@pipeline/dead-letters';
import { createKafka, kafkaSettingsFromEnv } from '@pipeline/kafka';
import { errorMessage, kafkaEnv, loadConfig } from '@pipeline/platform';
import { deadLetterTopics, list, replay } from './dead-letters';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const place = (value: string, previous: { partition: number; offset: string }[] = []) => {
  const p = parsePlace(value);
  if (!p) throw new InvalidArgumentError('expected partition:offset as listed, e.g. 3:17');
  return [...previous, p];
};

interface Common {
  topic?: string[];
  reason?: string[];
  customer?: string[];
  offset?: { partition: number; offset: string }[];
  idleTimeout: number;
}

const selectionOf = (o: Common): Selection => ({ reasons: o.reason, customers: o.customer, offsets: o.offset });

function withFilters(cmd: Command): Command {
  return cmd
    .option('--topic <dlq>', 'only this dead-letter topic (repeatable; default: both)', collect)
    .option('--reason <code>', 'only letters with this reason code, e.g. object_missing (repeatable)', collect)
    .option('--customer <id>', 'only letters of this customer (repeatable)', collect)
    .option('--offset <partition:offset>', 'only the letter at this place of the dead-letter topic, as listed (repeatable)', place)
    .option('--idle-timeout <seconds>', 'give up when a topic sends nothing for this long before its end', (v) => Number(v), 30);
}

async function setup(o: Common) {
  const env = loadConfig({ ...kafkaEnv, ...topicEnv });
  const kafka = createKafka(kafkaSettingsFromEnv(env, 'dead-letters-tool'));
  let topics = deadLetterTopics(env);
  if (o.topic?.length) {
    const unknown = o.topic.filter((t) => !topics.some((p) => p.dlq === t));
    if (unknown.length) throw new InvalidArgumentError(`not a dead-letter topic of this configuration: ${unknown.join(', ')} (known: ${topics.map((p) => p.dlq).join(', ')}; set TOPIC_*_DLQ)`);
    topics = topics.filter((p) => o.topic!.includes(p.dlq));
  }
  return { kafka, topics, env };
}

const program = new Command('dead-letters')
  .description(
    'List and replay the dead letters of the pipeline (TOPIC_BATCH_INGESTED_DLQ, TOPIC_INSIGHT_EVENTS_DLQ; brokers from KAFKA_*). ' +
      'Reads each topic up to its end at the start, with a throwaway consumer group that commits nothing.',
  )
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

let run: () => Promise<number> = async () => 2;

withFilters(program.command('list').description('list dead letters with their reasons'))
  .option('--json', 'one JSON object per letter, value included', false)
  .action((o: Common & { json: boolean }) => {
    run = async () => {
      const { kafka, topics } = await setup(o);
      return list(kafka, topics, selectionOf(o), { json: o.json, idleTimeoutMs: o.idleTimeout * 1000 }, process.stdout);
    };
  });

withFilters(program.command('replay').description('publish the chosen dead letters to their source topic again (after fixing their cause)'))
  .addOption(new Option('--all', 'every letter (required when no --reason, --customer or --offset is given)'))
  .option('--dry-run', 'say what would be replayed, publish nothing', false)
  .action((o: Common & { all?: boolean; dryRun: boolean }) => {
    run = async () => {
      if (!o.all && isEmptySelection(selectionOf(o))) {
        process.stderr.write('dead-letters replay: choose what to replay: --reason, --customer, --offset, or --all\n');
        return 2;
      }
      const { kafka, topics, env } = await setup(o);
      return replay(kafka, topics, selectionOf(o), { dryRun: o.dryRun, idleTimeoutMs: o.idleTimeout * 1000, timeoutMs: env.KAFKA_REQUEST_TIMEOUT_MS }, process.stdout);
    };
  });

program.parse();
run().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`dead-letters: ${errorMessage(err)}\n`);
    process.exit(err instanceof InvalidArgumentError ? 2 : 1);
  },
);
