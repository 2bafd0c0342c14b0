#!/bin/sh
# layers.sh - each layer includes only its own headers and those of the layers
# below it (docs/ARCHITECTURE.md "Layers"), and no file includes by "../".
#
#   sh tests/docs/layers.sh       prints "docs layers: ok" or the offending lines
#
# The build enforces the same (a library's include path holds only the folders
# below it); this says which line breaks the rule, in words.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

# layer: the folders its files may include from (itself first).
allowed() {
    case "$1" in
    proto) echo "proto" ;;
    tracker/util) echo "tracker/util" ;;
    tracker/conf) echo "tracker/conf tracker/access proto" ;;
    tracker/obs) echo "tracker/obs" ;;
    tracker/access) echo "tracker/access proto" ;;
    tracker/swarm) echo "tracker/swarm tracker/access proto tracker/obs tracker/util" ;;
    tracker/rt) echo "tracker/rt tracker/swarm tracker/access tracker/conf proto tracker/obs tracker/util" ;;
    tracker/net) echo "tracker/net tracker/access tracker/rt tracker/swarm tracker/conf proto tracker/obs tracker/util" ;;
    tracker) echo "tracker tracker/net tracker/access tracker/rt tracker/swarm tracker/conf proto tracker/obs tracker/util" ;;
    *) echo "" ;;
    esac
}

bad=0
rel=$(grep -rn --exclude-dir=node_modules '#include "\.\./' tracker proto tests bench/loadgen --include='*.c' --include='*.h' || true)
if [ -n "$rel" ]; then
    echo "$rel" | sed 's/^/docs layers: relative include: /'
    bad=1
fi
for f in $(find proto tracker -name '*.[ch]' | sort); do
    dir=$(dirname "$f")
    ok=$(allowed "$dir")
    if [ -z "$ok" ]; then
        echo "docs layers: $f is in no layer (tests/docs/layers.sh lists them)"
        bad=1
        continue
    fi
    for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
        found=""
        for d in $ok; do
            if [ -f "$d/$h" ]; then found=$d; break; fi
        done
        if [ -z "$found" ]; then
            where=$(find proto tracker -name "$h" | head -1)
            echo "docs layers: $f includes $h (${where:-not found}), outside: $ok"
            bad=1
        fi
    done
done
if [ "$bad" = 0 ]; then
    echo "docs layers: ok"
else
    echo "docs layers: FAILED"
fi
