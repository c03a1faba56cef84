#!/usr/bin/env bash
# Infrastructure checks (CI runs them from scripts/test.sh). Idempotent: installs pinned tools
# into venvs under $SHOPSTREAM_CACHE/infra-venv (default ~/.cache/shopstream/infra-venv), then
#   1. cfn-lint on template.yaml (SAM transform)          4. an HCL parse of every .tf file
#   2. sam validate --lint (offline)                       5. terraform/tofu fmt + validate, when a
#   3. checkov on template.yaml and infra/terraform           binary and an offline AWS provider exist
#                                                          6. the SAM <-> Terraform parity test
# checkov findings must be fixed or suppressed inline with a reason (template Metadata
# `checkov: skip:` / `#checkov:skip=ID:reason` in the .tf files).
#
#   SHOPSTREAM_TF_PLUGIN_DIR   provider mirror for `terraform init -plugin-dir` (default
#                              /opt/tf-plugins when it exists); the Terraform registry is not
#                              reachable from CI, so without it step 5 is skipped and steps 4 + 6
#                              stand in for `terraform validate`.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${SHOPSTREAM_CACHE:-$HOME/.cache/shopstream}"
ROOT_VENV="$CACHE/infra-venv"
CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
SAM_TRANSLATOR_VERSION=1.115.0
SAM_CLI_VERSION=1.170.0
PYTHON_HCL2_VERSION=8.1.4
PYYAML_VERSION=6.0.3

log() { echo "[check-infra] $*" >&2; }
step() { printf '\n--- %s ---\n' "$*"; }

# make_venv NAME PACKAGE==VERSION...: one venv per tool set (checkov's HCL fork and python-hcl2
# both install a module named `hcl2`, and aws-sam-cli pins boto3 differently from checkov).
make_venv() {
  local name=$1
  shift
  local venv="$ROOT_VENV/$name"
  local stamp
  stamp="$venv/.shopstream-$(echo "$*" | tr ' =' '_-')"
  if [[ -f "$stamp" ]]; then
    return
  fi
  log "installing $* into $venv"
  rm -rf "$venv"
  mkdir -p "$ROOT_VENV"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    log "python3 -m venv failed; installing python3-venv"
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq && apt-get install -y -qq python3-venv
    else
      sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv
    fi
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
  touch "$stamp"
}

step "install tools (pinned) into $ROOT_VENV"
make_venv lint "cfn-lint==$CFN_LINT_VERSION" "checkov==$CHECKOV_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
make_venv hcl "python-hcl2==$PYTHON_HCL2_VERSION" "PyYAML==$PYYAML_VERSION"
make_venv sam "aws-sam-cli==$SAM_CLI_VERSION"
LINT="$ROOT_VENV/lint/bin"
HCL_PY="$ROOT_VENV/hcl/bin/python"
SAM="$ROOT_VENV/sam/bin/sam"

step "cfn-lint template.yaml"
"$LINT/cfn-lint" --version
"$LINT/cfn-lint" template.yaml
echo "cfn-lint: no findings"

step "sam validate --lint"
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" "$SAM" validate --lint --template template.yaml

# checkov prints tracebacks when it cannot reach its (optional) online guideline service; keep
# them out of the CI log unless the run fails.
run_checkov() {
  local log_file
  log_file=$(mktemp)
  if ! "$LINT/checkov" --quiet --compact --skip-download "$@" 2>"$log_file"; then
    cat "$log_file" >&2
    rm -f "$log_file"
    return 1
  fi
  rm -f "$log_file"
}

step "checkov template.yaml"
run_checkov --framework cloudformation --file template.yaml
step "checkov infra/terraform"
run_checkov --framework terraform --directory infra/terraform

step "HCL parse of every .tf file"
find infra -name '*.tf' -not -path '*/.terraform/*' -print0 | sort -z | xargs -0 "$HCL_PY" -c '
import sys, hcl2
for path in sys.argv[1:]:
    with open(path) as f:
        hcl2.load(f)
    print("parsed", path)
print(f"hcl: {len(sys.argv) - 1} files parsed")
'

step "terraform validate"
TF_BIN=""
for candidate in tofu terraform; do
  if command -v "$candidate" >/dev/null 2>&1; then
    TF_BIN=$(command -v "$candidate")
    break
  fi
done
PLUGIN_DIR="${SHOPSTREAM_TF_PLUGIN_DIR:-}"
if [[ -z "$PLUGIN_DIR" && -d /opt/tf-plugins ]]; then
  PLUGIN_DIR=/opt/tf-plugins
fi
if [[ -z "$TF_BIN" ]]; then
  echo "skipped: no terraform or tofu binary (none installable from the reachable registries); the HCL parse and the parity test stand in"
else
  export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1
  "$TF_BIN" fmt -check -recursive -diff infra/terraform
  echo "$(basename "$TF_BIN") fmt: clean"
  if [[ -z "$PLUGIN_DIR" ]]; then
    echo "skipped validate: $(basename "$TF_BIN") found but no offline AWS provider (set SHOPSTREAM_TF_PLUGIN_DIR); the registry is unreachable"
  else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    cp -r infra/terraform "$work/"
    (
      cd "$work/terraform/examples/complete"
      "$TF_BIN" init -backend=false -input=false -no-color -plugin-dir="$PLUGIN_DIR" >/dev/null
      "$TF_BIN" validate -no-color
    )
  fi
fi

step "parity test (template.yaml <-> infra/terraform)"
"$HCL_PY" infra/tests/test_parity.py
