/** Process entry of the CLI (bin/vigil.js loads the compiled copy; tests run this file through tsx). */
import { main } from './main.js';
import { exitSoon } from '../services/context.js';

// `vigil flags tail | head`, `vigil --help | less`: a reader that went away is not an error of ours.
// Stop quietly instead of crashing on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });

process.exitCode = await main(process.argv.slice(2));
// Output is written; a client still reconnecting somewhere must not hold the exit code back.
exitSoon();
