export { stageFile, writeFileAtomic, type FileContents, type StagedFile } from './atomic-write.js';
export { readNpy, writeNpy } from './npy.js';
