/**
 * The workflows of the server's catalog: `GET /workflows` lists them (with the files that could not be loaded),
 * `GET /workflows/:name` is one: description, inputs schema, definition, graph.
 */
import type { Hono } from 'hono';
import { BraidError } from '../../errors.js';
import { workflowGraph } from '../../graph/graph.js';
import type { ServerDeps } from './context.js';

export function registerWorkflows(app: Hono, { catalog }: ServerDeps): void {
  app.get('/workflows', (c) =>
    c.json({
      workflows: catalog.list().map((e) => ({
        name: e.name,
        description: e.description,
        inputs: e.inputs,
        confirm: e.confirm,
        tasks: e.workflow.tasks.length,
      })),
      problems: catalog.problems,
    }),
  );

  app.get('/workflows/:name', (c) => {
    const name = c.req.param('name');
    const entry = catalog.get(name);
    if (!entry)
      throw new BraidError(
        'E_NOT_FOUND',
        `no workflow "${name}"; available: ${
          catalog
            .list()
            .map((e) => e.name)
            .join(', ') || '(none)'
        }`,
        { path: 'workflow' },
      );
    return c.json({
      name,
      description: entry.description,
      inputs: entry.inputs,
      confirm: entry.confirm,
      tasks: entry.workflow.tasks.length,
      definition: entry.workflow,
      graph: workflowGraph(entry.workflow),
    });
  });
}
