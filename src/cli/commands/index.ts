/**
 * Every subcommand, by name, loaded only when it runs: `vigil schema` must not pay for sharp,
 * BullMQ and KafkaJS. Each module exports a `register(program) => Command` (dlq.ts also
 * `registerDeadLetters`). Add a command here: name → loader of its register function.
 */
import type { Command } from 'commander';

export type Register = (program: Command) => Command;

export const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  demo: async () => (await import('./demo.js')).register,
  worker: async () => (await import('./worker.js')).register,
  bridge: async () => (await import('./bridge.js')).register,
  publish: async () => (await import('./publish.js')).register,
  scan: async () => (await import('./scan.js')).register,
  queues: async () => (await import('./queues.js')).register,
  'dead-letters': async () => (await import('./dlq.js')).registerDeadLetters,
  bank: async () => (await import('./bank.js')).register,
  hash: async () => (await import('./hash.js')).register,
  schema: async () => (await import('./schema.js')).register,
  config: async () => (await import('./config.js')).register,
  terms: async () => (await import('./terms.js')).register,
  text: async () => (await import('./text.js')).register,
  classify: async () => (await import('./classify.js')).register,
  'classify-text': async () => (await import('./classify-text.js')).register,
  'train-text': async () => (await import('./train-text.js')).register,
  policy: async () => (await import('./policy.js')).register,
  audit: async () => (await import('./audit.js')).register,
  ops: async () => (await import('./ops.js')).register,
  dlq: async () => (await import('./dlq.js')).register,
  flags: async () => (await import('./flags.js')).register,
  tune: async () => (await import('./tune.js')).register,
  replay: async () => (await import('./replay.js')).register,
  precision: async () => (await import('./precision.js')).register,
};
