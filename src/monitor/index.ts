/**
 * `braid/monitor`: run events as pino logs and OpenTelemetry spans. Kept out of `braid` so that importing
 * the core loads neither pino nor the OpenTelemetry API; pass these listeners as `onEvent`.
 */
export { createLogger, eventLogger, type LogOptions } from './logger.js';
export { otelListener } from './tracing.js';
