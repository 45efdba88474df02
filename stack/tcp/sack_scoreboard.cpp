#include "stack/tcp/sack_scoreboard.h"
