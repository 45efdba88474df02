// Empty: ustack_test_pch exists to build tests/support/pch.h once for every test executable.
