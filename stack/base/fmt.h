// <fmt/format.h> plus the one declaration that keeps fmt's formatting engine out of every object
// file. Project headers include this rather than <fmt/format.h>.
//
// fmt 9 (Debian 12) defines detail::vformat_to<char> — the format-string interpreter behind
// fmt::format_to, formatter<T>::format and every spdlog call — as a template in its header, so
// each translation unit that formats anything instantiates and optimises all of it (the integer,
// float and Dragon4 writers) again, only for the linker to keep one copy. fmt 10 declares it
// `extern template` itself; this does the same for fmt 9, with the one instantiation in fmt.cpp
// (not libfmt's: clang and g++ mangle its name differently, and libfmt is built with g++). It
// about halves the compile time of a small test (base_time_test: 11.5 s of CPU to 7 s under clang
// ASan, 8.5 s to 5 s under g++ -O2).
#pragma once

#include <fmt/format.h>

#if FMT_VERSION < 100000 && !defined(FMT_HEADER_ONLY)
FMT_BEGIN_NAMESPACE
namespace detail {
extern template void vformat_to<char>(buffer<char>&, string_view, format_args, locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
#endif
