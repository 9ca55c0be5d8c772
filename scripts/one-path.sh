#!/usr/bin/env bash
# Checks that every public item of the crate has one public path.
# 1. From the sources: the `pub mod` / `pub use` lines of the public modules.
# 2. From the rendered docs (built afresh): one page per item name and kind.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf target/doc/distributed_tracing
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --quiet
echo "== public modules and re-exports (src) =="
grep -rnE '^\s*pub (mod|use) ' src --include=*.rs | grep -v '^src/init/' | sed 's/^/  /'
echo "== item pages in target/doc =="
cd target/doc/distributed_tracing
# rustdoc leaves a redirect page at an item's definition path: those are not paths.
pages=$(find . -name '*.html' | grep -E '/(struct|enum|fn|trait|type|constant|macro|static)\.[^/]+\.html$' \
  | xargs grep -L 'http-equiv="refresh"' | sort)
echo "$pages" | sort | sed 's/^/  /'
dups=$(echo "$pages" | xargs -n1 basename | sort | uniq -d)
if [ -n "$dups" ]; then echo "DUPLICATE PATHS:"; for d in $dups; do echo "$pages" | grep "/$d$"; done; exit 1; fi
echo "one path per item: ok ($(echo "$pages" | wc -l) items)"
