#include "stack/tcp/isn.h"
