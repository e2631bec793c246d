/** Process entry of the CLI (bin/vigil.js loads the compiled copy; tests run this file through tsx). */
import { main } from './main.js';
import { exitSoon } from '../services/context.js';

process.exitCode = await main(process.argv.slice(2));
// Output is written; a client still reconnecting somewhere must not hold the exit code back.
exitSoon();
