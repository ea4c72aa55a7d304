#!/usr/bin/env bash
# CI: `sam validate --lint` and `sam build` of template.yaml and sam/demo/template.yaml, offline (no
# credentials, no Docker), then the layer zipped the way `sam deploy` zips it keeps /opt/app-protect
# executable. aws-sam-cli is heavy (about 340 MB, many pinned dependencies), so it gets its own venv
# under build/ rather than a place in the dev extra.
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_VENV=build/sam-venv
if [ ! -x "$SAM_VENV/bin/sam" ]; then
  echo "installing aws-sam-cli into $SAM_VENV"
  python3 -m venv "$SAM_VENV"
  "$SAM_VENV/bin/python" -m pip install --quiet --disable-pip-version-check aws-sam-cli
fi
sam="$SAM_VENV/bin/sam"
export SAM_CLI_TELEMETRY=0 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1

# The demo function is python3.12: sam build runs pip with that interpreter, so it must be on PATH.
py312="$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12.*/bin 2>/dev/null | tail -n 1 || true)"
if [ -n "$py312" ]; then export PATH="$py312:$PATH"; fi

"$sam" --version
"$sam" validate --lint -t template.yaml
"$sam" validate --lint -t sam/demo/template.yaml
"$sam" build -t template.yaml --build-dir build/sam/layer
"$sam" build -t sam/demo/template.yaml --build-dir build/sam/demo

"$SAM_VENV/bin/python" - <<'EOF'
import os
import tempfile
import zipfile

from samcli.lib.package.utils import make_zip

for built in ("build/sam/layer/AppProtectLayer", "build/sam/demo/AppProtectLayer"):
    with tempfile.TemporaryDirectory() as scratch:
        with zipfile.ZipFile(make_zip(os.path.join(scratch, "layer"), built)) as archive:
            mode = (archive.getinfo("app-protect").external_attr >> 16) & 0o777
            names = archive.namelist()
    assert mode == 0o755, f"{built}: app-protect has mode {mode:o}"
    assert "python/app_protect_lambda/bootstrap.py" in names, f"{built}: no bootstrap"
    print(f"{built}: as sam deploy zips it, app-protect is {mode:o}, {len(names)} files")
assert os.path.exists("build/sam/demo/NotesFunction/aws_lambda_powertools/__init__.py")
EOF
