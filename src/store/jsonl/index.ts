/** The JSONL run store: the store, its record format and its reader, by name. */
export { JsonlRunStore } from './store.js';
export { storeError } from './files.js';
export type { RecordSlice } from './reader.js';
export { eventJson, parseRunLog, truncatedTail } from './serializer.js';
