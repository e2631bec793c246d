/** Every subcommand registers itself here; each module exports `register(program) => Command`. */
import type { Command } from 'commander';
import { register as schema } from './schema.js';

export const COMMANDS: ReadonlyArray<(program: Command) => Command> = [schema];
