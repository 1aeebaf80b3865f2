#!/usr/bin/env bash
# The core library links none of the adapters' dependencies, and every
# library has the soname of its major version.
#
#   linkage.sh <version> <libcircuit.so> [<adapter library>...]
#
# Fails when libcircuit's dynamic section names hiredis, prometheus-cpp,
# gRPC or protobuf, when it imports a symbol of theirs (nm -D
# --undefined-only), or when a library's SONAME is not lib<name>.so.<major>
# (libcircuit.so.0 while the version is 0.x).
set -euo pipefail
version=$1
core=$2
shift 2
major=${version%%.*}
status=0

fail() {
  echo "FAIL: $*"
  status=1
}

soname_of() {
  readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'
}

check_soname() {
  local lib=$1 base want got
  base=$(basename "$lib")
  want="${base%%.so*}.so.$major"
  got=$(soname_of "$lib")
  if [ "$got" = "$want" ]; then
    echo "ok: $base has soname $got"
  else
    fail "$base has soname '$got', expected $want"
  fi
}

check_soname "$core"

needed=$(readelf -d "$core" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
bad=$(grep -Ei 'hiredis|prometheus|grpc|protobuf' <<<"$needed" || true)
if [ -n "$bad" ]; then
  fail "libcircuit needs an adapter's library:" $bad
else
  echo "ok: libcircuit needs none of hiredis, prometheus-cpp, gRPC:" $needed
fi

imports=$(nm -DC --undefined-only "$core")
bad=$(grep -Ei 'redis|prometheus|grpc|protobuf' <<<"$imports" || true)
if [ -n "$bad" ]; then
  fail "libcircuit imports adapter symbols:"
  echo "$bad"
else
  echo "ok: libcircuit imports no redis, prometheus or grpc symbol ($(wc -l <<<"$imports") imports)"
fi

for lib in "$@"; do
  check_soname "$lib"
done
exit $status
