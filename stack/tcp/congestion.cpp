#include "stack/tcp/congestion.h"
