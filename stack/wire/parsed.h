// Parsed<T>: the result of a checked header parse — the header value, or the counter that names
// why the bytes were rejected (so the caller can hand it straight to Stats::drop).
#pragma once

#include <cassert>
#include <utility>

#include "stack/base/stats.h"

namespace ustack::wire {

template <typename T>
class Parsed {
 public:
  Parsed(T value) : value_(std::move(value)), ok_(true) {}  // NOLINT: implicit by design
  Parsed(Counter error) : error_(error) {}                  // NOLINT: implicit by design

  explicit operator bool() const { return ok_; }
  const T& operator*() const {
    assert(ok_);
    return value_;
  }
  const T* operator->() const {
    assert(ok_);
    return &value_;
  }
  Counter error() const { return error_; }

 private:
  T value_{};
  Counter error_{};
  bool ok_ = false;
};

}  // namespace ustack::wire
