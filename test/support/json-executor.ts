/**
 * A second executor, in one file: every request and result crosses a JSON boundary, as they would on a
 * queue to another machine (here the worker side is a LocalExecutor in the same process).
 */
import {
  LocalExecutor,
  type AttemptExecutor,
  type AttemptHost,
  type AttemptRequest,
  type AttemptResult,
} from '../../src/index.js';

export class JsonExecutor implements AttemptExecutor {
  readonly #worker = new LocalExecutor();
  readonly sent: AttemptRequest[] = [];

  async execute(request: AttemptRequest, host: AttemptHost): Promise<AttemptResult> {
    // As any executor that sends a request elsewhere: the attempt's idempotency key goes along (the host makes it).
    const sent = { ...request, idempotencyKey: request.idempotencyKey ?? host.idempotencyKey };
    const wire = JSON.parse(JSON.stringify(sent)) as AttemptRequest;
    this.sent.push(wire);
    const result = await this.#worker.execute(wire, host);
    return JSON.parse(JSON.stringify(result)) as AttemptResult;
  }

  cancel(runId: string, reason: Error): void {
    this.#worker.cancel(runId, reason);
  }
}
