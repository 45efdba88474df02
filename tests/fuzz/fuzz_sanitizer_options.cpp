// Linked into every fuzz target (tests/fuzz/CMakeLists.txt): the sanitizer defaults a fuzz run
// needs, whoever starts it. The build compiles UBSan in its default recoverable mode, where a
// report is printed and execution goes on, so without this libFuzzer would never see undefined
// behaviour as a failure. UBSAN_OPTIONS in the environment still overrides these.
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}
