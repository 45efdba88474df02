// The libraries' precompiled header (stack/CMakeLists.txt): std, fmt and spdlog headers that
// most of their sources include. Nothing of ustack itself, so that editing the stack does not
// rebuild the header; a source still includes what it uses, this only makes it cheaper.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "stack/base/fmt.h"
