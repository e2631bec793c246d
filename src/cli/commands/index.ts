/** Every subcommand registers itself here; each module exports `register(program) => Command`. */
import type { Command } from 'commander';
import { register as bank } from './bank.js';
import { register as bridge } from './bridge.js';
import { register as config } from './config.js';
import { register as demo } from './demo.js';
import { register as hash } from './hash.js';
import { register as ops } from './ops.js';
import { register as publish } from './publish.js';
import { register as queues } from './queues.js';
import { register as dlq, registerDeadLetters as deadLetters } from './dlq.js';
import { register as flags } from './flags.js';
import { register as scan } from './scan.js';
import { register as schema } from './schema.js';
import { register as terms } from './terms.js';
import { register as text } from './text.js';
import { register as worker } from './worker.js';

export const COMMANDS: ReadonlyArray<(program: Command) => Command> = [demo, worker, bridge, publish, scan, queues, deadLetters, bank, hash, schema, config, terms, text, ops, dlq, flags];
