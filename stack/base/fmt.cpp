// The one instantiation of fmt's format-string interpreter that stack/base/fmt.h declares extern.
#include "stack/base/fmt.h"

#if FMT_VERSION < 100000 && !defined(FMT_HEADER_ONLY)
FMT_BEGIN_NAMESPACE
namespace detail {
template void vformat_to<char>(buffer<char>&, string_view, format_args, locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
#endif
