#!/usr/bin/env bash
# Checks the system tools the product uses and installs them where root may, else says what to do.
# `--with-browser` (make test) also wants Chromium, which drives the production-page test.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if [ "${1:-}" = "--with-browser" ]; then
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || missing+=(chromium)
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${missing[*]}"
  if apt-get update -qq >/dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "Could not install ${missing[*]} with apt-get." >&2
fi
echo "Missing system tools: ${missing[*]}. ffmpeg decodes M4A/AAC uploads (without it they are" \
     "refused with a clear message); chromium runs the production-page browser test (skipped" \
     "without it). Install them with your package manager, e.g. sudo apt-get install ${missing[*]}." >&2
