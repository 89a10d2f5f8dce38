// Host stand-in for ESP-IDF's esp_log.h (test_node_tables only compiles firmware/main/main.cpp).
#pragma once
#include <cstdio>
#define ESP_LOGI(tag, fmt, ...) std::printf("I %s: " fmt "\n", tag, ##__VA_ARGS__)
#define ESP_LOGE(tag, fmt, ...) std::printf("E %s: " fmt "\n", tag, ##__VA_ARGS__)
