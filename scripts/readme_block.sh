#!/usr/bin/env bash
# Prints a marked code block of README.md, so that tests and CI run the
# README's commands exactly as written:
#
#   bash scripts/readme_block.sh <name> [README.md]
#
# A marked block is a fenced block right after a line `<!-- ci: <name> -->`
# (blank lines between them are allowed). Exits 1 when there is no such
# block, or it is empty.
set -euo pipefail
name=$1
readme=${2:-"$(dirname "$0")/../README.md"}
awk -v marker="<!-- ci: $name -->" '
  state == 0 && $0 == marker { state = 1; next }
  state == 1 && /^[ \t]*$/ { next }
  state == 1 && /^```/ { state = 2; next }
  state == 1 { exit }
  state == 2 && /^```/ { done = 1; exit }
  state == 2 { print; lines++ }
  END { exit (done && lines > 0) ? 0 : 1 }
' "$readme" || { echo "README.md has no block marked '<!-- ci: $name -->'" >&2; exit 1; }
