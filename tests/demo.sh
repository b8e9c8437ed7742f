#!/usr/bin/env bash
# The demo: what heapwalk can show today, end to end, on real cores.
set -euo pipefail
build=${1:?usage: demo.sh BUILD_DIR}
echo "heapwalk demo: (grows with every capability)"
"$build/coretool/coretool" --help
