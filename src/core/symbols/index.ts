// Public surface of the symbolization layer.
export type { Frame, FrameKind } from './types.js';
export { KernelSymbols, KERNEL_MODULE, type KernelSymbol } from './kallsyms.js';
export { ElfFile, ElfError, EM_X86_64, EM_AARCH64, type Segment, type Section } from './elf.js';
export { PerfMap, PerfMapError, PERF_MAP_MAX_BYTES, type PerfMapLoadOptions } from './perfmap.js';
export { escapeControl } from '../sanitize.js';
export { parseMaps, readMaps, findMapping, type Mapping } from './procmaps.js';
export { SymbolTable } from './symtab.js';
export { Symbolizer, ElfCache, type SymbolizerOptions, type ProcessSnapshot } from './symbolizer.js';
export { frameLabel, buildStack, dropSelfCaller, type LabelOptions } from './frames.js';
export { demangle, demangleAll, demangleStacks, canDemangle, isMangled } from './demangle.js';
