#!/bin/sh
# Writes the official ONNX node test cases (model.onnx + test_data_set_0/{input,output}_K.pb per case)
# into DIR/node/<case>/, using Debian's python3-onnx (apt install python3-onnx).
# Usage: test/conformance/generate.sh DIR
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
out=$1
mkdir -p "$out"
# The packaged onnx predates numpy's removal of the np.float-style aliases; restore them before import.
/usr/bin/python3 - "$out" <<'PY'
import sys
import numpy as np
for name, alias in (('float', float), ('int', int), ('bool', bool), ('object', object), ('complex', complex), ('str', str)):
    if not hasattr(np, name):
        setattr(np, name, alias)
from onnx.backend.test import cmd_tools
sys.argv = ['cmd_tools', 'generate-data', '-o', sys.argv[1]]
cmd_tools.main()
PY
