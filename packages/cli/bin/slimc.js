#!/usr/bin/env node
// The `slimc` command. It lives outside dist/ so that npm links it on install, before the build
// (`npm ci` runs `tsc -b` afterwards) has written dist/bin.js.
import '../dist/bin.js';
