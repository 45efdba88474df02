// Content-Type (RFC 9110 8.3) chosen by file name extension. Text types carry charset=utf-8 so
// that a browser does not guess the encoding.
#pragma once

#include <string_view>

namespace ustack::http {

// The media type for `path` by its extension (case-insensitive); application/octet-stream when
// the extension is unknown or missing (RFC 9110 8.3 lets the recipient treat it as data).
std::string_view content_type_for(std::string_view path);

}  // namespace ustack::http
