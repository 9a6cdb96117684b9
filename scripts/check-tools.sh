#!/usr/bin/env bash
# Checks the system tools the product uses and installs them where root may, else says what to do.
# `--with-browser` (make test) also wants Chromium, which drives the production-page test;
# `--with-soundfonts` (make bench) the extra sound fonts of the analysis benchmark.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if [ "${1:-}" = "--with-browser" ]; then
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || missing+=(chromium)
fi
# Free sample libraries for recorded drums and percussion (their licences are reviewed in
# jobs/sample_library.py); without them the synthesised sound vault plays. --no-recommends keeps
# hydrogen-drumkits from pulling in the Hydrogen application.
samples=()
command -v fluidsynth >/dev/null 2>&1 || samples+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || samples+=(fluid-soundfont-gm)
[ -f /usr/share/hydrogen/data/drumkits/Audiophob/drumkit.xml ] || samples+=(hydrogen-drumkits)
# `--with-soundfonts` (make bench): two more General MIDI sound fonts for the analysis
# benchmark's corpus (bench/corpus.py renders every piece through one of three)
if [ "${1:-}" = "--with-soundfonts" ]; then
  [ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || samples+=(timgm6mb-soundfont)
  [ -f /usr/share/sounds/sf3/MuseScore_General.sf3 ] || samples+=(musescore-general-soundfont)
fi
if [ ${#samples[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 \
      && echo "Installing sample libraries: ${samples[*]} (about 300 MB)" \
      && apt-get update -qq >/dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${samples[@]}" >/dev/null; then
    :
  else
    echo "Sample libraries not installed: ${samples[*]}. Drums and percussion will use the" \
         "synthesised sound vault. For recorded kits: sudo apt-get install" \
         "--no-install-recommends ${samples[*]} (or set VYKE_SAMPLES_DIR to your own samples)." >&2
  fi
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
