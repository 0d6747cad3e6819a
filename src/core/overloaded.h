// Overloaded{f, g, ...}: one callable with the call operators of f, g, ...
// For std::visit with one lambda per alternative of a variant: a variant
// that gains an alternative then fails to compile where it is not handled
// (as long as no overload takes `auto`).
#pragma once

namespace salvus::core {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace salvus::core
