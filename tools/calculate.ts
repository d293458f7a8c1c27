import type { MathJsInstance } from 'mathjs';
import { z } from 'zod';
import { NonRetriableError } from '../src/errors.js';
import { defineTool } from '../src/tools/define-tool.js';

let sandbox: Promise<{ math: MathJsInstance; evaluate: MathJsInstance['evaluate'] }> | undefined;

/**
 * A mathjs instance with the functions that could change or escape the sandbox removed (mathjs security
 * guide). Built on first use: creating it costs ~200 ms, which CLI start-up should not pay.
 */
function mathjs() {
  sandbox ??= import('mathjs').then(({ all, create }) => {
    const math = create(all);
    const evaluate = math.evaluate.bind(math);
    const disabled = (name: string) => () => {
      throw new Error(`function ${name} is disabled in calculate`);
    };
    math.import(Object.fromEntries(['import', 'createUnit', 'evaluate', 'parse', 'simplify', 'derivative', 'resolve', 'reviver', 'compile'].map((n) => [n, disabled(n)])), { override: true });
    return { math, evaluate };
  });
  return sandbox;
}

/** Evaluate a math expression with units (mathjs), e.g. "350 km / 2 h to km/h". No JS eval. */
export const calculate = defineTool({
  name: 'calculate',
  description: 'Evaluate a math expression with mathjs, units included (e.g. "12% of 250", "350 km / 2 h to km/h").',
  input: z.object({ expression: z.string().min(1).max(1000).describe('a mathjs expression') }),
  output: z.object({ expression: z.string(), result: z.union([z.number(), z.string(), z.boolean()]), text: z.string() }),
  async run({ expression }) {
    const { math, evaluate } = await mathjs();
    let value: unknown;
    try {
      value = evaluate(expression.replace(/(\d+(?:\.\d+)?)\s*%\s*of\s+/gi, '$1 / 100 * '));
    } catch (err) {
      throw new NonRetriableError(`cannot evaluate "${expression}": ${(err as Error).message}`);
    }
    if (typeof value === 'function' || value === undefined) throw new NonRetriableError(`"${expression}" is not a value`);
    const text = math.format(value as never, { precision: 10 });
    const result = typeof value === 'number' || typeof value === 'boolean' ? value : text;
    return { expression, result, text };
  },
});
