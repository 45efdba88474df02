#include "stack/tcp/receive_buffer.h"
