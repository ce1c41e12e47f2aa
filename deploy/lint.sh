#!/usr/bin/env bash
# `make lint-deploy`: check every deployment file with the tools that work on a machine that
# cannot pull images. Linters come from deploy/tools (own uv lock, not the app environment);
# docker-compose, systemd-analyze and caddy from Debian (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never
tools=deploy/tools/.venv/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The Debian tools: CI (.ci/run installs them) must have them; elsewhere a missing one is
# skipped with a warning, so `make test` still works on a fresh clone.
have() {
  command -v "$1" >/dev/null && return 0
  if [ "${CI:-}" = "true" ]; then
    echo "lint-deploy: $1 is missing (apt-get install $2; .ci/run installs it)" >&2
    exit 1
  fi
  echo "lint-deploy: WARNING: $1 is missing, check skipped (apt-get install $2)" >&2
  return 1
}

echo "==> Deployment linters (deploy/tools)"
# The app environment's interpreter (Python 3.11+, found by `make setup`) when there is one.
if [ -x .venv/bin/python ]; then
  uv sync --frozen --quiet --project deploy/tools --python .venv/bin/python
else
  uv sync --frozen --quiet --project deploy/tools
fi

echo "==> ruff: deploy/*.py (the helper scripts the images copy)"
.venv/bin/ruff check --quiet deploy
.venv/bin/ruff format --check --quiet deploy

echo "==> hadolint: Dockerfiles"
"$tools/hadolint" --failure-threshold info deploy/*/Dockerfile

echo "==> check-jsonschema: compose.yaml (Compose Specification), ci.yml (GitHub workflow schema)"
"$tools/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml
"$tools/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml

if have docker-compose docker-compose; then
  echo "==> docker-compose config: deploy/compose.yaml as Debian's docker-compose reads it"
  # compose needs the files the installer creates (.env, the two password files): use the examples.
  mkdir -p "$work/deploy/secrets"
  cp -r deploy/compose.yaml deploy/caddy deploy/postgres "$work/deploy/"
  cp deploy/env.example "$work/deploy/.env"
  printf 'lint-only\n' >"$work/deploy/secrets/postgres_password"
  printf 'lint-only\n' >"$work/deploy/secrets/redis_password"
  (cd "$work/deploy" && docker-compose -f compose.yaml config --quiet)
fi

if have caddy caddy; then
  echo "==> caddy adapt: Caddyfiles"
  PUBLIC_BASE_URL=https://chat.example.coop caddy adapt --config deploy/caddy/Caddyfile >/dev/null
  caddy adapt --config deploy/systemd/Caddyfile >/dev/null
fi

echo "==> yamllint: deploy/ and .github/"
"$tools/yamllint" --strict -c deploy/.yamllint.yaml deploy .github

echo "==> kubernetes-validate: deploy/k8s against the Kubernetes schemas (newest and 1.27)"
for version in "" 1.27.0; do
  "$tools/kubernetes-validate" --strict --quiet ${version:+-k "$version"} \
    deploy/k8s/*.yaml deploy/k8s/secret/*.yaml
done

echo "==> checkov: Dockerfiles, Kubernetes manifests, CI workflow"
"$tools/checkov" --quiet --compact --skip-download --framework dockerfile kubernetes \
  --skip-path deploy/tools/.venv -d deploy
"$tools/checkov" --quiet --compact --skip-download --framework github_actions -d .github

if have systemd-analyze systemd; then
  echo "==> systemd-analyze verify: deploy/systemd (in a scratch root with stub executables)"
  root="$work/root"
  mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd/system" "$root/bin" \
    "$root/opt/jec/.venv/bin" "$root/opt/jec/rasa-env/.venv/bin"
  for exe in bin/sh opt/jec/.venv/bin/python opt/jec/.venv/bin/jecbot \
    opt/jec/rasa-env/.venv/bin/python; do
    printf '#!/bin/sh\n' >"$root/$exe"
    chmod +x "$root/$exe"
  done
  cp /usr/lib/systemd/system/*.target /usr/lib/systemd/system/*.slice "$root/usr/lib/systemd/system/"
  cp deploy/systemd/*.service deploy/systemd/*.target "$root/etc/systemd/system/"
  # Unknown keys are only warnings to systemd-analyze: any output at all fails the check.
  out=$(systemd-analyze verify --man=no --root="$root" "$root"/etc/systemd/system/jec* 2>&1) || {
    echo "$out" >&2
    exit 1
  }
  if [ -n "$out" ]; then
    echo "$out" >&2
    exit 1
  fi
fi
echo "lint-deploy: all deployment files pass"
