#!/usr/bin/env bash
# Refreshes the Swagger UI the /docs page serves (compiled into the binary, so the docs work
# offline) from npm's swagger-ui-dist package. Usage: scripts/vendor_swagger_ui.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-5.32.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
dest=src/api/docs
cp "$work/package/swagger-ui-bundle.js" "$work/package/swagger-ui.css" "$dest/"
cp "$work/package/LICENSE" "$dest/SWAGGER-UI-LICENSE"
cp "$work/package/NOTICE" "$dest/SWAGGER-UI-NOTICE"
# The source map is not vendored: drop the reference so browsers do not ask for it.
sed -i "/sourceMappingURL/d" "$dest/swagger-ui.css"
echo "swagger-ui-dist $version" > "$dest/VERSION"
echo "vendored swagger-ui-dist $version into $dest"
