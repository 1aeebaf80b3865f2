// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The one Boost.Test module definition; every *_test.cc links with it.
#define BOOST_TEST_MODULE circuit
#include <boost/test/unit_test.hpp>
