/** The logger a tool gets in `ctx.logger`: lines become `task.log` events, which log sinks subscribe to. */
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../tools/types.js';

export function createTaskLogger(bus: EventBus, taskId?: string): Logger {
  const log = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
    bus.emit({ type: 'task.log', level, message, ...(taskId ? { taskId } : {}), ...(fields ? { fields } : {}) });
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
