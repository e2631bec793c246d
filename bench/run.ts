/**
 * `npm run bench -- NAME [NAME…]` runs bench/NAME.ts and writes its report into BENCHMARKS.md between
 * `<!-- bench:NAME -->` markers, so each benchmark owns one section and reruns replace it.
 * A bench module exports `run(args: string[]): Promise<string>` returning a Markdown section body
 * that states the command, the machine, the baseline measured in the same run, and the ratio.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${process.platform}-${process.arch}`;
}

async function main(): Promise<void> {
  const [first, ...rest] = process.argv.slice(2);
  if (!first || first === '--help' || first === '-h') {
    process.stdout.write(`usage: npm run bench -- NAME [args]\n\nbenchmarks: ${available.join(', ')}\nEach writes its section of BENCHMARKS.md.\n`);
    process.exit(first ? 0 : 2);
  }
  if (!available.includes(first)) {
    process.stderr.write(`unknown benchmark "${first}"; available: ${available.join(', ')}\n`);
    process.exit(2);
  }
  const mod = (await import(`./${first}.ts`)) as { run(args: string[]): Promise<string> };
  const body = await mod.run(rest);
  const file = new URL('../BENCHMARKS.md', import.meta.url);
  let doc = await readFile(file, 'utf8').catch(() => '# Benchmarks\n\nProduced by `npm run bench -- NAME`; each section is rewritten by its benchmark.\n');
  const start = `<!-- bench:${first} -->`;
  const end = `<!-- /bench:${first} -->`;
  const section = `${start}\n${body.trim()}\n\n_Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; code measured: the compiled build in dist/._\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + section + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(file, doc);
  process.stdout.write(`${body.trim()}\n\n(written to BENCHMARKS.md)\n`);
}

await main();
