/**
 * `POST /chat`: one turn of a conversation with the workflow agent, streamed as server-sent events. A turn without a
 * `sessionId` starts a session (its id in the `x-session-id` header and the first event); sessions are kept in memory,
 * the oldest dropped first.
 */
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { WorkflowAgent } from '../../../agents/workflow-agent.js';
import { readJson, type ServerDeps } from './context.js';

const chatBody = z.strictObject({
  message: z.string().min(1).max(20_000),
  sessionId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
});

export function registerChat(app: Hono, deps: ServerDeps): void {
  const { catalog, runs, llm, summaries } = deps;
  const sessions = new Map<string, WorkflowAgent>();
  app.post('/chat', async (c) => {
    const body = await readJson(c, chatBody);
    const sessionId = body.sessionId ?? crypto.randomUUID();
    let agent = sessions.get(sessionId);
    if (!agent) {
      agent = new WorkflowAgent({ catalog, runs, llm, summaries });
      sessions.set(sessionId, agent);
      if (sessions.size > (deps.maxSessions ?? 100)) sessions.delete(sessions.keys().next().value!);
    }
    const turn = agent;
    c.header('x-session-id', sessionId);
    return streamSSE(c, async (stream) => {
      const abort = new AbortController();
      stream.onAbort(() => abort.abort());
      await stream.writeSSE({ event: 'session', data: JSON.stringify({ sessionId }) });
      for await (const chunk of turn.send(body.message, abort.signal))
        await stream.writeSSE({ event: chunk.type, data: JSON.stringify(chunk) });
      await stream.writeSSE({ event: 'end', data: JSON.stringify({ sessionId }) });
    });
  });
}
