/** The WebAssembly runtime: lowering to a plan, memory planning, the .slimc format, the executor hook. */
export { Runtime, type ObserveOptions, type ObservedLayout, type RunObserver, type RuntimeMemory, type RuntimeOptions } from './runtime.js';
export { lowerModel, stepLabel, stepInputs, stepOutputs, type Plan, type PlanStep, type KernelStep, type LowerOptions } from './plan.js';
export { compileForWasm, loadCompiled, serializePlan, SLIMC_MAGIC, SLIMC_FORMAT_VERSION } from './format.js';
export { ArenaAllocator, planMemory, type LiveInterval, type MemoryPlan } from './arena.js';
export { encodeMultiplier, encodeMultipliers } from './quantize-multiplier.js';
export { LIVE_RUNTIMES, wasmExecutor, type WasmExecutor } from './executor.js';
export { paintStack, stackSize, stackUsed } from './stack-use.js';
