/** Public API of the `vigil` package. */
export { createPublisher, type Publisher, type PublisherOptions, type BatchResult } from './publisher.js';
export {
  parseMessageEvent,
  contractJsonSchema,
  messageEventSchema,
  flagSchema,
  type MessageEvent,
  type MessageEventInput,
  type Flag,
} from './core/contracts.js';
export { VigilError, type ErrorCode } from './core/errors.js';
export { loadConfig, type Config } from './config.js';
