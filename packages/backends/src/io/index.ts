export { writeFileAtomic } from './atomic-write.js';
export { readNpy, writeNpy } from './npy.js';
