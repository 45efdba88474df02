#include "stack/tcp/rtt_estimator.h"
