export { loadScript } from './load-script.js'
export { preloadScripts } from './preload-scripts.js'
export { runScript, type RunScriptOptions, type ScriptTarget } from './run-script.js'
export { parseScriptHeader, type ScriptHeader } from './script-header.js'
export { defineScript, type DefineScriptOptions, type Script } from './script.js'
export {
  batchedScript,
  createMultiCallBatcher,
  createScriptBatcher,
  withKeyCount,
  type ScriptBatcher,
  type ScriptBatcherOptions,
  type MultiCallBatcherOptions,
  type ScriptCall,
} from './script-batcher.js'
