#!/bin/bash
# Runs the jest suite as an unprivileged user and says how much of it ran:
#   uid and gid 65534 (nobody), no supplementary groups, no capabilities (empty inheritable
#   and bounding sets, no new privileges), CI unset (root-only tests skip with a message).
# Run it as root: it drops to that user with setpriv. (As any other user it runs as that
# user, unchanged.) It builds dist/ first. Arguments go to jest, e.g. a test file. Exits
# non-zero when a test fails.
#   npm run test:unprivileged
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/sd-unprivileged-XXXXXX)
trap 'rm -rf "$work"' EXIT
as=()
who="uid $(id -u)"
if [ "$(id -u)" = 0 ]; then
  as=(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs)
  who='uid 65534, no capabilities'
  chown 65534:65534 "$work"
  # The checkout must be readable by that user; a private one is copied where it is.
  if ! "${as[@]}" test -r "$root/package.json" -a -x "$root/test" -a -r "$root/node_modules/jest/bin/jest.js"; then
    echo "$root is not readable by uid 65534: testing a copy" >&2
    cp -a "$root/." "$work/repo" 2>/dev/null || cp -aL "$root/." "$work/repo"
    rm -rf "$work/repo/node_modules" && cp -aL "$root/node_modules" "$work/repo/node_modules"
    chown -R 65534:65534 "$work/repo"
    root=$work/repo
  fi
fi
cd "$root"
# Tests run the command and the exporter from dist/, as CI does after `npm run compile`:
# build it first, as the invoking user (the addon in build/ must be there already).
node node_modules/typescript/bin/tsc -p tsconfig.build.json
# Jest (and ts-jest under it) keeps its cache in a directory this user can write.
status=0
"${as[@]}" env -u CI HOME="$work" node node_modules/jest/bin/jest.js --cacheDirectory "$work/jest-cache" \
  --json --outputFile "$work/results.json" "$@" || status=$?
[ -s "$work/results.json" ] || { echo "jest wrote no results (status $status)" >&2; exit 1; }
node - "$work/results.json" "$who" <<'EOF'
const [file, who] = process.argv.slice(2);
const r = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
// A suite that could not run (import error, failing beforeAll) counts as one failed test.
const broken = r.testResults.filter((s) => s.status === 'failed' && !s.assertionResults.some((t) => t.status === 'failed')).length;
const skipped = r.numPendingTests + r.numTodoTests;
const failed = r.numFailedTests + broken;
const total = r.numPassedTests + skipped + failed;
const pct = (n) => `${total ? ((100 * n) / total).toFixed(1) : '0.0'} %`;
console.log(`unprivileged (${who}, CI unset): ${total} tests: ${r.numPassedTests} ran and passed (${pct(r.numPassedTests)}), ${skipped} skipped (${pct(skipped)}), ${failed} failed`);
EOF
exit "$status"
