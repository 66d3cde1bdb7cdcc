export { runCli, type CliIO } from './main.js';
export { inspectModel, formatInspect, type InspectReport } from './inspect.js';
export { readTensorDir, bindInputs, writeTensorDir } from './tensor-files.js';
