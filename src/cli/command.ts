// TEMPORARY: the old tool contract, until every tool is on src/toolkit's defineTool.
export type { LegacyCommand as ToolCommand, LegacyContext as ToolContext } from '../toolkit/legacy.js';
