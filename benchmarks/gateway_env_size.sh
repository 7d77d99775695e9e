#!/usr/bin/env bash
# Install the gateway alone (the base dependencies, as the gateway image does: `uv sync --locked`
# from uv.lock) into a fresh virtualenv, prove it pulled no TensorFlow, and report its size.
#
#   benchmarks/gateway_env_size.sh            # uses python3.11 and a temporary directory
#   PYTHON=python3.11 KEEP=1 benchmarks/gateway_env_size.sh
#
# Needs `make install` (for .venv/bin/uv); run by hand, not by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
work="$(mktemp -d -t covertype-gateway-env-XXXXXX)"
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$work"' EXIT

UV_PROJECT_ENVIRONMENT="$work/venv" UV_PYTHON="$PYTHON" .venv/bin/uv sync --locked --no-editable --quiet
installed="$(UV_PROJECT_ENVIRONMENT="$work/venv" .venv/bin/uv pip list --python "$work/venv/bin/python" --format=freeze)"
heavy="$(grep -iE '^(tensorflow|tensorflow-serving-api|keras|tf-keras|tensorflow-cpu)==' <<<"$installed" || true)"
if [[ -n "$heavy" ]]; then
    echo "FAIL: the gateway environment contains: $heavy" >&2
    exit 1
fi
"$work/venv/bin/python" - <<'PY'
import sys
from gateway.app import create_app
from gateway.settings import GatewaySettings
create_app(GatewaySettings()).openapi()
heavy = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tensorflow_serving")]
assert not heavy, heavy
PY
"$work/venv/bin/covertype" gateway --help >/dev/null

site="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "packages: $(wc -l <<<"$installed")"
echo "no tensorflow, tensorflow-serving-api or keras installed; gateway imports and starts its CLI"
echo "site-packages: $(du -sh "$site" | cut -f1)"
echo "whole venv:    $(du -sh "$work/venv" | cut -f1)"
echo "largest:"
du -s "$site"/* | sort -rn | head -8 | while read -r kb path; do
    printf '  %6.1f MB  %s\n' "$(echo "$kb / 1024" | bc -l)" "$(basename "$path")"
done
