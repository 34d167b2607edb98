#!/usr/bin/env bash
# Install the system components the tests drive for real, when they are missing
# (Debian/Ubuntu). Quick when everything is there: it only looks for the programs.
set -euo pipefail

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v git >/dev/null 2>&1 || need+=(git)
# The fixes the checker prints are pasted into zsh too (macOS's shell), and so are the book's commands.
command -v zsh >/dev/null 2>&1 || need+=(zsh)
# The browser tests drive Debian's Chromium through Playwright; no browser is ever downloaded.
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
# Sort and drop duplicates (openssh-client may be named twice).
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "The tests need these system packages, and this machine has no apt-get to install them:" >&2
  printf '  %s\n' "${need[@]}" >&2
  echo "Install them with your package manager, then run 'make test' again." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "Installing system packages the tests need: ${need[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
