#!/bin/sh
# deploy.sh - deploy/ and the Dockerfile against the binary, so they cannot
# drift: every tracker flag (a --word after "wstracker" on a line, and the
# command of the compose file's wstracker service) and every WSTRACKER_*
# variable they name must be in `wstracker --help`. Also: prometheus.yml passes
# `promtool check config`, wstracker.service passes `systemd-analyze verify`
# (with ExecStart pointed at the built binary: verify wants it to exist) with
# no warning, docker-compose.yml parses as YAML with the three services.
# Part of the docs suite (tests/run-all.sh): one `docs <part>: ok|FAILED` line each.
#
#   sh tests/docs/deploy.sh [path/to/wstracker]      default build/wstracker
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${1:-build/wstracker}
D=deploy
FILES="Dockerfile $D/docker-compose.yml $D/wstracker.service $D/nginx.conf $D/Caddyfile $D/README.md"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! "$BIN" --help >"$tmp/help" 2>&1; then
    echo "docs deploy: FAILED ($BIN --help did not run)"
    exit 1
fi

# Flags: "wstracker --a x --b" on one line (README-style commands in comments),
# plus the wstracker service's command list in the compose file.
# shellcheck disable=SC2086
grep -ho 'wstracker\( [^#]*\)\{0,1\}' $FILES | grep -o -- '--[a-z][a-z0-9-]*' | sort -u >"$tmp/flags"
python3 - "$D/docker-compose.yml" >>"$tmp/flags" <<'EOF' || echo "--compose-unreadable" >>"$tmp/flags"
import sys, yaml
svc = yaml.safe_load(open(sys.argv[1]))["services"]["wstracker"]
cmd = svc.get("command", [])
for a in (cmd.split() if isinstance(cmd, str) else cmd):
    if a.startswith("--"):
        print(a.split("=")[0])
EOF
# shellcheck disable=SC2086
grep -ho '\(-D\)\{0,1\}WSTRACKER_[A-Z0-9_]*[A-Z0-9]' $FILES | grep -v '^-D' | sort -u >"$tmp/envs"
missing=""
nflags=0
nenvs=0
for f in $(sort -u "$tmp/flags"); do
    nflags=$((nflags + 1))
    grep -q -- "^  $f\( \|$\)" "$tmp/help" || missing="$missing $f"
done
for e in $(cat "$tmp/envs"); do
    nenvs=$((nenvs + 1))
    grep -q "env $e\$" "$tmp/help" || missing="$missing $e"
done
if [ -z "$missing" ] && [ "$nenvs" -gt 0 ]; then
    echo "docs deploy: ok ($nflags flags, $nenvs variables named in deploy/ and the Dockerfile, all in --help)"
else
    echo "docs deploy: FAILED (not in $BIN --help:$missing)"
fi

# docker-compose.yml: YAML with the three services, the tracker's environment a map.
if out=$(python3 - "$D/docker-compose.yml" 2>&1 <<'EOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
s = d["services"]
assert set(s) == {"wstracker", "coturn", "prometheus"}, sorted(s)
assert isinstance(s["wstracker"]["environment"], dict)
print(", ".join(sorted(s)))
EOF
); then
    echo "docs compose: ok (services $out)"
else
    echo "docs compose: FAILED ($(echo "$out" | tail -1))"
fi

# prometheus.yml
if out=$(promtool check config "$D/prometheus.yml" 2>&1); then
    echo "docs promtool: ok"
else
    echo "docs promtool: FAILED ($(echo "$out" | tr '\n' ' '))"
fi

# wstracker.service: any output of verify (an unknown key is only a warning) fails.
sed "s|/usr/local/bin/wstracker|$(pwd)/$BIN|" "$D/wstracker.service" >"$tmp/wstracker.service"
out=$(systemd-analyze verify "$tmp/wstracker.service" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
    echo "docs systemd: ok"
else
    echo "docs systemd: FAILED (exit $rc: $(echo "$out" | tr '\n' ' '))"
fi
