// Replays every file of the given directories through the fuzz target (no libFuzzer needed):
// the crashing inputs `make fuzz` keeps in firmware/fuzz/regressions/ become ctest cases.
#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  long files = 0;
  for (int a = 1; a < argc; ++a) {
    DIR* d = opendir(argv[a]);
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.empty() || name[0] == '.') continue;
      const std::string path = std::string(argv[a]) + "/" + name;
      FILE* f = std::fopen(path.c_str(), "rb");
      if (f == nullptr) continue;
      std::vector<uint8_t> buf;
      uint8_t chunk[4096];
      size_t n;
      while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.insert(buf.end(), chunk, chunk + n);
      std::fclose(f);
      LLVMFuzzerTestOneInput(buf.data(), buf.size());
      ++files;
    }
    closedir(d);
  }
  std::printf("replayed %ld inputs\n", files);
  return 0;
}
