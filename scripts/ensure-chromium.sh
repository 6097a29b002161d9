#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing (Playwright cannot download
# browsers here). Under CI=true a missing Chromium is an error; elsewhere browser tests skip.
set -u
ci=false; case "${CI:-}" in 1|true|yes|TRUE) ci=true ;; esac
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: installing the Debian package (once)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null || true
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "chromium: /usr/bin/chromium is missing (apt-get install chromium)" >&2
  [ "$ci" = true ] && exit 1
fi
exit 0
