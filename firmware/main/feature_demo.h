// The feature front-end demo loop (main.cpp): static pool, synthetic signal, ESP_LOGI output.
#pragma once

void RunFeatureDemo();
