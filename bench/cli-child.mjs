// The CLI path, timed inside one process: `braid run <file> --json --tools bench/work-tool.mjs` through the CLI's
// own main() (commander, reading and validating the file, the run store under $BRAID_HOME, plain progress lines on
// stderr, the JSON result on stdout, the record's last fsync), repeated. stdout and stderr are pipes the parent drains.
// Usage (from bench/run.mjs): fork with argv [file, warmup, repeats, warmupMs, ...more braid run flags]; replies
// { times, cpu } (ms per run) over IPC.

// BENCH_CLI_MAIN: another build's main.js, to compare two builds side by side.
const { main } = await import(process.env.BENCH_CLI_MAIN ?? '../dist/bundle/cli.js');
const [file, warmup, repeats, warmupMs, ...extra] = process.argv.slice(2);
const tool = new URL('./work-tool.mjs', import.meta.url).pathname;
const argv = ['run', file, '--json', '--tools', tool, ...extra];
const cpu = [];
const once = async () => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const code = await main(argv);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  if (code !== 0) throw new Error(`braid run ${file}: exit ${code}`);
  return ms;
};
const start = performance.now();
for (let i = 0; i < Number(warmup) || performance.now() - start < Number(warmupMs); i++) await once();
const times = [];
for (let i = 0; i < Number(repeats); i++) times.push(await once());
process.send({ times, cpu: cpu.slice(-times.length) }, () => process.exit(0));
