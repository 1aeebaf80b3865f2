# The rule of circuitConfigVersion.cmake, for the version the tree builds:
# while the major version is 0, only requests for the same major.minor at a
# patch level no newer than ours are compatible.
#
#   cmake -DVERSION_FILE=<build>/cmake/circuitConfigVersion.cmake \
#         -DVERSION=<project version> -P cmake_version_test.cmake
cmake_minimum_required(VERSION 3.19)

string(REPLACE "." ";" _parts "${VERSION}")
list(GET _parts 0 M)
list(GET _parts 1 m)
list(GET _parts 2 p)
math(EXPR M1 "${M} + 1")
math(EXPR m1 "${m} + 1")
math(EXPR p1 "${p} + 1")

set(failures 0)

# check(<request> <expected compatible> <expected exact>): <request> is a
# version or a range as find_package takes it.
function(check request want_compatible want_exact)
  foreach(v IN ITEMS PACKAGE_FIND_VERSION PACKAGE_FIND_VERSION_RANGE
          PACKAGE_FIND_VERSION_MIN PACKAGE_FIND_VERSION_MAX
          PACKAGE_FIND_VERSION_RANGE_MAX PACKAGE_VERSION_UNSUITABLE)
    unset(${v})
  endforeach()
  if(request MATCHES "^([0-9.]+)\\.\\.\\.(<?)([0-9.]+)$")
    set(PACKAGE_FIND_VERSION_RANGE "${request}")
    set(PACKAGE_FIND_VERSION_MIN "${CMAKE_MATCH_1}")
    set(PACKAGE_FIND_VERSION_MAX "${CMAKE_MATCH_3}")
    set(PACKAGE_FIND_VERSION_RANGE_MIN INCLUDE)
    if(CMAKE_MATCH_2 STREQUAL "<")
      set(PACKAGE_FIND_VERSION_RANGE_MAX EXCLUDE)
    else()
      set(PACKAGE_FIND_VERSION_RANGE_MAX INCLUDE)
    endif()
    set(lower "${PACKAGE_FIND_VERSION_MIN}")
    set(prefix PACKAGE_FIND_VERSION_MIN)
    set(PACKAGE_FIND_VERSION "${lower}")
  else()
    set(lower "${request}")
    set(prefix PACKAGE_FIND_VERSION)
    set(PACKAGE_FIND_VERSION "${request}")
  endif()
  # find_package fills the parts it was not given with 0.
  string(REPLACE "." ";" req "${lower}.0.0")
  list(GET req 0 ${prefix}_MAJOR)
  list(GET req 1 ${prefix}_MINOR)
  list(GET req 2 ${prefix}_PATCH)

  include("${VERSION_FILE}")

  if(NOT PACKAGE_VERSION STREQUAL VERSION)
    message(SEND_ERROR "PACKAGE_VERSION is '${PACKAGE_VERSION}', not ${VERSION}")
  endif()
  if((PACKAGE_VERSION_COMPATIBLE AND NOT want_compatible) OR
     (NOT PACKAGE_VERSION_COMPATIBLE AND want_compatible) OR
     (PACKAGE_VERSION_EXACT AND NOT want_exact) OR
     (NOT PACKAGE_VERSION_EXACT AND want_exact))
    message(SEND_ERROR "request '${request}' of ${VERSION}: compatible "
      "${PACKAGE_VERSION_COMPATIBLE} (want ${want_compatible}), exact "
      "${PACKAGE_VERSION_EXACT} (want ${want_exact})")
  else()
    message(STATUS "ok: '${request}' -> compatible ${want_compatible}, exact ${want_exact}")
  endif()
endfunction()

check("" TRUE FALSE)
check("${M}.${m}.${p}" TRUE TRUE)
check("${M}.${m}" TRUE FALSE)
check("${M}.${m}.${p1}" FALSE FALSE)
check("${M}.${m1}" FALSE FALSE)
check("${M1}.0" FALSE FALSE)
check("${M}.${m}...<${M}.${m1}" TRUE FALSE)
check("${M}.${m}...${M}.${m}.${p}" TRUE FALSE)
check("${M1}.0...<${M1}.1" FALSE FALSE)
if(m GREATER 0)
  math(EXPR m_1 "${m} - 1")
  # An older minor: compatible only from 1.0 on.
  if(M EQUAL 0)
    check("${M}.${m_1}" FALSE FALSE)
    check("${M}.${m_1}...<${M1}.0" FALSE FALSE)
  else()
    check("${M}.${m_1}" TRUE FALSE)
  endif()
endif()
if(M EQUAL 0)
  # "0" means 0.0 to find_package.
  check("0" FALSE FALSE)
endif()
