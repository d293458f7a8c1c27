/** MCP servers as braid tool sources: read a config, open a pool, get its tools, close it. */
export { mcpServersOf, mcpServersSchema, readMcpConfig, type McpServerConfig, type McpServers } from './config.js';
export { McpPool } from './client-tools.js';
