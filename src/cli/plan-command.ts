/** `braid plan "<goal>"`: a validated workflow file from a sentence, its graph, and optionally a run. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { toMermaid } from '../graph/mermaid.js';
import { createProvider } from '../llm/llm.js';
import { planWorkflow } from '../planner/planner.js';
import { EXIT } from './exit.js';
import { registryFor, runCommand } from './run-command.js';

export interface PlanFlags {
  out?: string;
  run?: boolean;
  tools?: string[];
  maxRounds?: number;
}

export async function planCommand(goal: string, flags: PlanFlags): Promise<number> {
  const registry = await registryFor(flags.tools);
  const llm = createProvider();
  const planned = await planWorkflow(goal, { llm, registry, maxRounds: flags.maxRounds });
  const how = planned.offline
    ? 'offline planner (keyword rules; set OPENAI_API_KEY to plan with a model)'
    : `${llm.provider} ${llm.model}, ${planned.rounds} round${planned.rounds === 1 ? '' : 's'}`;
  const yaml = `# Planned by braid from: ${goal.replace(/\n/g, ' ')}\n# ${how}\n${stringify(planned.workflow)}`;
  // --run without --out keeps the file under .braid/plans so the run record can point at it.
  const file =
    flags.out ??
    (flags.run ? join(process.env.BRAID_HOME ?? '.braid', 'plans', `${planned.workflow.name}.yaml`) : undefined);
  if (file) {
    await mkdir(dirname(resolve(file)), { recursive: true });
    await writeFile(file, yaml);
    process.stderr.write(`wrote ${file} (${planned.workflow.tasks.length} tasks, validated; ${how})\n`);
  } else process.stdout.write(`${yaml}\n`);
  process.stdout.write(`${toMermaid(planned.workflow)}\n`);
  if (!flags.run || !file) return EXIT.ok;
  return runCommand(file, { tools: flags.tools });
}
