#include "stack/tcp/send_buffer.h"
