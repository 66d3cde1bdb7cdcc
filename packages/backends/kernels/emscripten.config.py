# emscripten configuration for building slimc_kernels.wasm with Debian's emscripten 3.1.6.
# The system config freezes its cache; this one points the cache at a writable folder in the repo.
import os
_repo = os.path.abspath(os.path.join(os.path.dirname(os.environ['EM_CONFIG']), '..', '..', '..'))
EMSCRIPTEN_ROOT = '/usr/share/emscripten'
LLVM_ROOT = '/usr/bin'
BINARYEN_ROOT = '/usr'
NODE_JS = '/usr/bin/node'
FROZEN_CACHE = False
CACHE = os.environ.get('SLIMC_EM_CACHE', os.path.join(_repo, '.cache', 'emscripten'))
LLVM_ADD_VERSION = '14'
CLANG_ADD_VERSION = '14'
