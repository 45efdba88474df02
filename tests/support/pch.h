// The test executables' precompiled header (tests/CMakeLists.txt): headers from outside the
// project that most tests include. Nothing of ustack itself, so that editing the stack does not
// rebuild the header; a test still includes what it uses, this only makes it cheaper.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "stack/base/fmt.h"
