/**
 * `braid/redis`: runs spread over machines (docs/scaling-out.md). The Redis run store (every machine sees
 * every run), the BullMQ executor (attempts as jobs) and worker (`braid worker` is a CLI around it), and the
 * takeover loop that continues runs whose coordinator died. Loads ioredis and BullMQ; `braid` itself does not.
 */
export { RedisRunStore, type RedisRunStoreOptions } from './store/redis-store.js';
export { BullmqExecutor, type BullmqExecutorOptions } from './executors/bullmq-executor.js';
export { BraidWorker, type BraidWorkerOptions } from './executors/bullmq-worker.js';
export { takeOverRuns, type LeasedRunStore, type Takeover, type TakeoverOptions } from './service/takeover.js';
