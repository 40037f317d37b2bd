#!/usr/bin/env bash
# Writes .env for `docker compose up` from .env.example, generating every secret the example
# leaves empty with openssl (nothing leaves this machine). Never overwrites an existing file.
#
#   scripts/init-env.sh            # writes ./.env (mode 0600)
#   scripts/init-env.sh other.env  # writes another file
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.env}
if [ -e "$out" ]; then
  echo "$out exists; not overwriting it (remove it first to start over)" >&2
  exit 1
fi
umask 077
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    JWT_SECRET=) line="JWT_SECRET=$(openssl rand -base64 48 | tr -d '\n')" ;;
    *_API_KEYS=) line="${line}$(openssl rand -hex 24)" ;;
    VAULT_KEYS=) line="VAULT_KEYS=v1:$(openssl rand -base64 32)" ;;
    # PKCS#8 PEM on one line, newlines as \n (the API reads it back), in single quotes: docker
    # compose's env_file, node --env-file and a POSIX shell (`set -a; . ./.env`) all read the
    # same characters from them (unquoted, a shell stops at the PEM's spaces; in double quotes
    # compose and node turn \n into newlines and the shell does not)
    OFFLINE_TOKEN_PRIVATE_KEY=)
      line="OFFLINE_TOKEN_PRIVATE_KEY='$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | awk '{printf "%s\\n", $0}')'" ;;
    # Ed25519 PKCS#8 PEM on one line: signs the transparency-log checkpoints
    TLOG_SIGNING_KEY=)
      line="TLOG_SIGNING_KEY='$(openssl genpkey -algorithm ED25519 | awk '{printf "%s\\n", $0}')'" ;;
    # 32 random bytes: the secret of the server's tags over the rows it writes
    STORE_MAC_KEY=) line="STORE_MAC_KEY=$(openssl rand -base64 32)" ;;
    [A-Z]*=)
      echo "init-env: .env.example leaves ${line%=} empty and this script does not know it" >&2
      exit 1 ;;
  esac
  printf '%s\n' "$line"
done < .env.example > "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out (secrets generated; keep it private). Set PUBLIC_URL to the URL clients use,"
echo "and UPSTREAM_URL and UPSTREAM_API_KEY to the identity API (the example names compose's stub)."
