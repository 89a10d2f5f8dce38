// Host stand-in for FreeRTOS.h.
#pragma once
#define pdMS_TO_TICKS(ms) (ms)
